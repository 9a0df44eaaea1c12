using Quantization.Formats;
using Quantization.Tests.Conformance;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// The IQ2 lattices (docs/formats.md#iq2-lattices): the neighbour maps against a brute-force rebuild of ggml's
/// <c>iq2xs_init_impl</c> (full sort by distance then index), the sign table's parity, and the refusal of rows whose
/// squares overflow (where ggml aborts).
/// </summary>
public sealed class Iq2LatticeTests
{
    public static TheoryData<string> Lattices() => ["iq2_xxs", "iq2_xs", "iq2_s"];

    private static (IqLattice Lattice, ulong[] Grid, int Distances) Get(string name) => name switch
    {
        "iq2_xxs" => (IqLattice.Iq2Xxs, IqGrids.Iq2Xxs.ToArray(), 2),
        "iq2_xs" => (IqLattice.Iq2Xs, IqGrids.Iq2Xs.ToArray(), 2),
        _ => (IqLattice.Iq2S, IqGrids.Iq2S.ToArray(), 1),
    };

    private static int LevelOf(byte b) => b switch { 8 => 0, 25 => 1, 43 => 2, _ => throw new ArgumentException($"{b}") };

    [Theory]
    [MemberData(nameof(Lattices))]
    public void EveryGridPointMapsToItself(string name)
    {
        (IqLattice lattice, ulong[] grid, _) = Get(name);
        for (int k = 0; k < grid.Length; ++k)
        {
            int code = 0;
            for (int i = 0; i < 8; ++i)
            {
                code |= LevelOf((byte)(grid[k] >> (8 * i))) << (2 * i);
                Assert.Equal(LevelOf((byte)(grid[k] >> (8 * i))), lattice.Level(k, i));
            }

            Assert.Equal(k, lattice.Index(code));
        }
    }

    /// <summary>
    /// For sampled off-grid codes the neighbour list equals a brute-force one: all grid points sorted by (squared
    /// distance, index), cut after the first <c>Distances</c> distinct distances.
    /// </summary>
    [Theory]
    [MemberData(nameof(Lattices))]
    public void NeighbourListsAreTheNearestPointsInGgmlsOrder(string name)
    {
        (IqLattice lattice, ulong[] grid, int distances) = Get(name);
        var rng = new TestRng(3);
        int checkedCodes = 0;
        for (int trial = 0; trial < 400; ++trial)
        {
            int code = rng.NextInt(IqLattice.MapSize);
            if (lattice.Index(code) >= 0)
            {
                continue;
            }

            int[] pos = [.. Enumerable.Range(0, 8).Select(i => 2 * ((code >> (2 * i)) & 3) + 1)];
            var sorted = Enumerable.Range(0, grid.Length)
                .Select(k => (D2: Enumerable.Range(0, 8).Sum(i => Sq(2 * LevelOf((byte)(grid[k] >> (8 * i))) + 1 - pos[i])), K: k))
                .OrderBy(p => p.D2).ThenBy(p => p.K).ToList();
            int[] kept = [.. sorted.Select(p => p.D2).Distinct().Take(distances)];
            List<int> expected = [.. sorted.Where(p => kept.Contains(p.D2)).Select(p => p.K)];

            Assert.Equal(expected, lattice.Neighbours(lattice.Index(code)).ToArray().Select(k => (int)k));

            // With zero weights every distance is equal and the first listed neighbour wins.
            var levels = new sbyte[8];
            Assert.Equal(expected[0], lattice.FindBestNeighbour(lattice.Index(code), new float[8], new float[8], 1f, levels));
            checkedCodes++;
        }

        Assert.True(checkedCodes > 100, $"{checkedCodes}");
    }

    private static int Sq(int v) => v * v;

    [Fact]
    public void SignPatternsHaveEvenParity()
    {
        ReadOnlySpan<byte> s = IqGrids.SignPatterns;
        for (int i = 0; i < 128; ++i)
        {
            Assert.Equal(i, s[i] & 127);
            Assert.Equal(0, System.Numerics.BitOperations.PopCount(s[i]) % 2);
        }
    }

    public static TheoryData<QuantType> Types() =>
        [.. ConformanceCase.LatticeSearchTypes.Where(t => FormatRegistry.TryGet(t)!.Kernels is not null)];

    /// <summary>A super-block whose Σx² overflows float32 is refused (ggml aborts on it); a finite one next to it is not the cause.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void LatticeSearchRejectsOverflowingSquares(QuantType type)
    {
        float[] x = TestData.Gaussian(1, 512, 1.0);
        float[] importance = TestData.Importance(2, 512, withZeros: false);
        var q = new byte[Quantizer.GetByteCount(type, 512)];
        Quantizer.Quantize(type, x, q, 512, importance);
        Quantizer.Quantize(type, x, q, 512, FormatRegistry.TryGet(type)!.Importance == ImportanceUse.Required ? importance : []);

        x[300] = 2e19f; // finite, but its square is not
        Assert.True(ConformanceCase.LatticeSearchRefuses(type, x));
        ArgumentException e = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q, 512, importance));
        Assert.Equal("source", e.ParamName);
    }
}
