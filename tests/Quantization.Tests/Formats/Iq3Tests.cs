using System.Runtime.CompilerServices;
using Quantization.Formats;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// IQ3_XXS and IQ3_S (docs/formats.md#iq3-grids, docs/formats.md#iq3_xxs, docs/formats.md#iq3_s): block layouts,
/// the grid tables (through ggml's dequantizer on every bit pattern), the neighbour maps' defining properties, the
/// quirks that change bytes, and the one deliberate difference (values ggml aborts on).
/// </summary>
public sealed class Iq3Tests
{
    [Fact]
    public void BlocksHaveGgmlSizesAndOffsets()
    {
        Assert.Equal(98, Unsafe.SizeOf<BlockIQ3_XXS>());
        Assert.Equal(BlockIQ3_XXS.Size, QuantFormat.Get(QuantType.IQ3_XXS).BytesPerBlock);
        Assert.Equal(110, Unsafe.SizeOf<BlockIQ3_S>());
        Assert.Equal(BlockIQ3_S.Size, QuantFormat.Get(QuantType.IQ3_S).BytesPerBlock);

        var xxs = default(BlockIQ3_XXS);
        ref byte x0 = ref Unsafe.As<BlockIQ3_XXS, byte>(ref xxs);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref x0, ref xxs.Qs[0]));
        Assert.Equal(66, (int)Unsafe.ByteOffset(ref x0, ref xxs.ScalesAndSigns[0]));

        var s = default(BlockIQ3_S);
        ref byte s0 = ref Unsafe.As<BlockIQ3_S, byte>(ref s);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref s0, ref s.Qs[0]));
        Assert.Equal(66, (int)Unsafe.ByteOffset(ref s0, ref s.Qh[0]));
        Assert.Equal(74, (int)Unsafe.ByteOffset(ref s0, ref s.Signs[0]));
        Assert.Equal(106, (int)Unsafe.ByteOffset(ref s0, ref s.Scales[0]));
    }

    /// <summary>
    /// Random block bytes (every grid index, sign pattern and scale, NaN and ∞ scales included) dequantize to ggml's
    /// floats: this pins the dequantization grids and the sign table, through both our dequantizers.
    /// </summary>
    [Theory]
    [InlineData(QuantType.IQ3_XXS)]
    [InlineData(QuantType.IQ3_S)]
    public void DequantizingRandomBytesEqualsGgml(QuantType type)
    {
        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
        int blockBytes = QuantFormat.Get(type).BytesPerBlock;
        const int Blocks = 256;
        var rng = new TestRng((ulong)type + 300);
        var bytes = new byte[Blocks * blockBytes];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)rng.NextUInt64();
        }

        var ours = new float[Blocks * 256];
        var reference = new float[ours.Length];
        Quantizer.Dequantize(type, bytes, ours);
        Kernels.KernelRegistry.TryGet(type)!.DequantizeReference!(bytes, reference);
        AssertBytes.EqualOrBothNaN(reference, ours, type);
        if (GgmlNative.IsByteReference)
        {
            AssertBytes.EqualOrBothNaN(GgmlNative.Dequantize((int)type, bytes), ours, type);
        }
    }

    /// <summary>
    /// Every grid point maps to itself; every other quadruple lists, nearest first (ties by index), all the points at
    /// its 2 (IQ3_XXS) or 3 (IQ3_S) smallest distances and no others.
    /// </summary>
    [Theory]
    [InlineData(false, 256, 2)]
    [InlineData(true, 512, 3)]
    public void NeighbourListsHoldTheNearestDistances(bool s, int gridSize, int distances)
    {
        Iq3Grid grid = s ? Iq3Grid.S : Iq3Grid.Xxs;
        ushort[] points = (s ? Iq3Grids.SPoints : Iq3Grids.XxsPoints).ToArray();
        Assert.Equal(gridSize, points.Length);
        Assert.Equal(gridSize, grid.Map.Count(m => m >= 0));
        for (int k = 0; k < gridSize; ++k)
        {
            Assert.Equal(k, grid.Map[points[k]]);
        }

        for (int u = 0; u < 4096; ++u)
        {
            if (grid.Map[u] >= 0)
            {
                continue;
            }

            int offset = -grid.Map[u] - 1;
            int[] listed = [.. grid.Neighbours.AsSpan(offset + 1, grid.Neighbours[offset]).ToArray().Select(v => (int)v)];
            int[] distance = [.. Enumerable.Range(0, gridSize).Select(k => Distance2(points[k], u))];
            int[] nearest = [.. distance.Distinct().Order().Take(distances)];
            int[] expected = [.. Enumerable.Range(0, gridSize).Where(k => nearest.Contains(distance[k])).OrderBy(k => distance[k]).ThenBy(k => k)];
            Assert.Equal(expected, listed);
        }
    }

    private static int Distance2(int a, int b)
    {
        int d2 = 0;
        for (int i = 0; i < 4; ++i)
        {
            int diff = 2 * (((a >> (3 * i)) & 7) - ((b >> (3 * i)) & 7));
            d2 += diff * diff;
        }

        return d2;
    }

    /// <summary>
    /// IQ3_S: an all-zero sub-block does not advance ggml's qs and signs positions, so the next sub-block's indices
    /// land in its slot and the last slot stays zero (qh stays in place). Equal to ggml, and the slot shift is visible.
    /// </summary>
    [Fact]
    public void IQ3_SZeroSubBlockShiftsLaterIndicesAndSigns()
    {
        float[] x = TestData.Gaussian(21, 256, 1.0);
        x.AsSpan(32, 32).Clear();
        byte[] ours = Quantize(QuantType.IQ3_S, x);
        if (GgmlNative.IsByteReference)
        {
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ3_S, x, 256), ours, QuantType.IQ3_S);
        }

        // Slot 7 of qs and signs is empty; slot 1 holds sub-block 2's non-zero data.
        Assert.All(ours.AsSpan(2 + 56, 8).ToArray(), b => Assert.Equal(0, b));
        Assert.All(ours.AsSpan(74 + 28, 4).ToArray(), b => Assert.Equal(0, b));
        Assert.Contains(ours.AsSpan(2 + 8, 8).ToArray(), b => b != 0);

        // Sub-block 2's signs moved to slot 1.
        int signs = 0;
        for (int j = 0; j < 8; ++j)
        {
            signs |= x[64 + j] < 0 ? 1 << j : 0;
        }

        Assert.Equal(signs, ours[74 + 4]);
    }

    /// <summary>
    /// IQ3_XXS stores seven sign bits per eight values; with an odd number of negative values the one of least w·x²
    /// is stored positive. Equal to ggml, and the decoded sign of that value is positive.
    /// </summary>
    [Fact]
    public void IQ3_XXSOddSignCountFlipsTheSmallestValue()
    {
        float[] x = TestData.Uniform(5, 256, 0.5, 2.0);
        x[3] = -0.01f;
        x[5] = -1.5f;
        x[6] = -1.7f;
        byte[] ours = Quantize(QuantType.IQ3_XXS, x);
        if (GgmlNative.IsByteReference)
        {
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ3_XXS, x, 256), ours, QuantType.IQ3_XXS);
        }

        var y = new float[256];
        Quantizer.Dequantize(QuantType.IQ3_XXS, ours, y);
        Assert.True(y[3] > 0);
        Assert.True(y[5] < 0 && y[6] < 0);
    }

    /// <summary>
    /// ggml aborts the process (GGML_ASSERT in iq3_find_best_neighbour) when no neighbour has a finite weighted
    /// distance, which values near 1e20 cause; the library throws ArgumentException instead.
    /// </summary>
    [Theory]
    [InlineData(QuantType.IQ3_XXS)]
    [InlineData(QuantType.IQ3_S)]
    public void ValuesGgmlAbortsOnThrowArgumentException(QuantType type)
    {
        float[] x = TestData.Gaussian(9, 256, 1e20);
        Assert.Throws<ArgumentException>(() => Quantize(type, x));
    }

    /// <summary>
    /// The SSSE3/SSE4.1 super-block sums (the Vector128 tier on x86, which the K-quant dispatch of this version does not
    /// select yet) equal the scalar reference's on random blocks and extreme activations.
    /// </summary>
    [Fact]
    public unsafe void Ssse3BlockSumsEqualTheReference()
    {
        if (!System.Runtime.Intrinsics.X86.Ssse3.IsSupported || !System.Runtime.Intrinsics.X86.Sse41.IsSupported)
        {
            return;
        }

        var rng = new TestRng(33);
        for (int i = 0; i < 64; ++i)
        {
            BlockIQ3_XXS xxs = default;
            BlockIQ3_S s = default;
            BlockQ8_K y = default;
            Fill(new Span<byte>(&xxs, BlockIQ3_XXS.Size), rng);
            Fill(new Span<byte>(&s, BlockIQ3_S.Size), rng);
            for (int e = 0; e < 256; ++e)
            {
                y.Qs[e] = i switch
                {
                    0 => 127,
                    1 => -127,
                    _ => (sbyte)(rng.NextInt(255) - 127),
                };
            }

            Assert.Equal(IQ3_XXSDot.SuperBlockSum(in xxs, in y), System.Runtime.Intrinsics.Vector128.Sum(IQ3_XXSDot.Block128(&xxs, &y)));
            Assert.Equal(IQ3_SDot.SuperBlockSum(in s, in y), System.Runtime.Intrinsics.Vector128.Sum(IQ3_SDot.Block128(&s, &y)));
        }
    }

    private static void Fill(Span<byte> bytes, TestRng rng)
    {
        for (int j = 0; j < bytes.Length; ++j)
        {
            bytes[j] = (byte)rng.NextUInt64();
        }
    }

    private static byte[] Quantize(QuantType type, float[] x)
    {
        var bytes = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, bytes, x.Length);
        return bytes;
    }
}
