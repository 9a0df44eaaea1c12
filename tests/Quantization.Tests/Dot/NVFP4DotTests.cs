using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// The NVFP4 × Q8_0 dot (<see cref="NVFP4Dot"/>, ggml's <c>ggml_vec_dot_nvfp4_q8_0</c>): the integer sums of every
/// instruction-set path against sums computed here from the published code table and the layout of
/// docs/formats.md#nvfp4, the element order, the float results against the reference (within the summation-order
/// bound), against dequantize-then-dot and against ggml's kernel.
/// </summary>
public sealed class NVFP4DotTests
{
    private static readonly int[] s_kvalues = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    private static readonly Paths s_paths = new(NVFP4Dot.IsSupported, NVFP4Dot.IntegerSums, NVFP4Dot.DotOn, NVFP4Dot.DotRowsOn, HasMin: false);

    private static IEnumerable<DotPath> Supported() => Enum.GetValues<DotPath>().Where(s_paths.IsSupported);

    [Fact]
    public void VecDotTypeIsQ8_0()
    {
        DotEntry dot = DotRegistry.TryGet(QuantType.NVFP4)!;
        Assert.Equal(QuantType.Q8_0, dot.ActivationType);
        Assert.Equal(QuantType.Q8_0, DotRegistry.TryGet(QuantType.MXFP4)!.ActivationType);
    }

    /// <summary>
    /// Element 9 of sub-block 1 (the high nibble of code byte 8 + 1) holds code 2 (+2), and only element 25 of the first
    /// activation block (sub-block 1 is its second half) is non-zero: 5. Scales 1 (0x40 halved) and FP16 1.0: 2·5 = 10
    /// exactly; any other pairing gives 0.
    /// </summary>
    [Fact]
    public void EachSubBlockMeetsItsHalfOfTheActivationBlock()
    {
        var w = new byte[BlockNVFP4.Size];
        w[0] = w[1] = w[2] = w[3] = 0x40;
        w[4 + 8 + 1] = 0x20;
        var a = new byte[68];
        a[1] = 0x3C;
        a[35] = 0x3C;
        a[2 + 25] = 5;
        foreach (DotPath path in Supported())
        {
            Assert.Equal(10f, NVFP4Dot.DotOn(path, w, a, 64));
        }

        Assert.Equal(10f, NVFP4Dot.DotReference(w, a, 64));
    }

    [Fact]
    public void IntegerSumsOfEveryPathEqualTheSumFromTheTable()
    {
        const int blocks = 67;
        var rng = new Random(8642);
        var w = new byte[blocks * BlockNVFP4.Size];
        rng.NextBytes(w); // every code byte; scale bytes do not enter the sums
        var a = new byte[blocks * 2 * 34];
        rng.NextBytes(a);
        for (int h = 0; h < 2 * blocks; h++)
        {
            for (int j = 0; j < 32; j++)
            {
                a[h * 34 + 2 + j] = (byte)(sbyte)rng.Next(-127, 128); // Q8_0 codes never −128
            }

            if (h % 5 == 0)
            {
                // The largest sums: every code ±12 against ±127 of the same sign, 16·12·127 = 24384 per sub-block.
                bool negative = h % 10 == 0;
                for (int j = 0; j < 16; j++)
                {
                    w[h / 2 * BlockNVFP4.Size + 4 + h % 2 * 16 + j] = (byte)(h % 4 == 0 ? 0x77 : 0xFF);
                }

                for (int j = 0; j < 32; j++)
                {
                    a[h * 34 + 2 + j] = (byte)(sbyte)(negative ? -127 : 127);
                }
            }
        }

        var expected = new int[4 * blocks];
        for (int b = 0; b < blocks; b++)
        {
            for (int s = 0; s < 4; s++)
            {
                int sum = 0;
                for (int e = 0; e < 16; e++)
                {
                    byte code = w[b * BlockNVFP4.Size + 4 + 8 * s + e % 8];
                    int q = s_kvalues[e < 8 ? code & 0xF : code >> 4];
                    sum += q * (sbyte)a[(2 * b + s / 2) * 34 + 2 + s % 2 * 16 + e];
                }

                expected[4 * b + s] = sum;
            }
        }

        Assert.Contains(24384, expected.Select(Math.Abs));
        int vectorPaths = 0;
        foreach (DotPath path in Supported())
        {
            var actual = new int[4 * blocks];
            s_paths.IntegerSums(path, w, a, blocks * 64, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path}: integer sums differ at sub-block {expected.AsSpan().CommonPrefixLength(actual)}");
            vectorPaths += path == DotPath.Scalar ? 0 : 1;
        }

        Assert.True(vectorPaths > 0 || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, "no vector path ran");
    }

    [Fact]
    public void EveryPathAgreesWithTheReferenceWithinTheSummationBound()
    {
        DotEntry dot = DotRegistry.TryGet(QuantType.NVFP4)!;
        foreach (int n in new[] { 64, 128, 192, 4096 })
        {
            float[] wf = TestData.TransformerLike((ulong)n + 40, n);
            float[] x = TestData.Gaussian((ulong)(n * 3 + 1), n, 1.5);
            byte[] w = DotTestSupport.Quantize(QuantType.NVFP4, wf, n);
            byte[] a = Activations(dot, x);
            double bound = Bound(w, a, n);
            float reference = dot.DotReference(w, a, n);
            foreach (DotPath path in Supported())
            {
                float actual = NVFP4Dot.DotOn(path, w, a, n);
                Assert.True(Math.Abs(actual - (double)reference) <= bound, $"{path} n={n}: {actual} vs reference {reference}, bound {bound:E3}");
                var rows = new float[1];
                NVFP4Dot.DotRowsOn(path, w, w.Length, a, n, rows);
                Assert.Equal(BitConverter.SingleToInt32Bits(actual), BitConverter.SingleToInt32Bits(rows[0]));
            }
        }
    }

    /// <summary>
    /// Twice the first-order bound of recursive summation over the per-lane terms (four lanes per sub-block), as
    /// <see cref="DotTestSupport.SummationBound"/> does for the 32-value formats: (terms + 2)·2⁻²³·Σ|w·a|.
    /// </summary>
    private static double Bound(byte[] w, byte[] a, int n)
    {
        float[] wd = DotTestSupport.Dequantize(QuantType.NVFP4, w);
        float[] ad = DotTestSupport.Dequantize(QuantType.Q8_0, a);
        double abs = 0;
        for (int j = 0; j < n; j++)
        {
            abs += Math.Abs((double)wd[j] * ad[j]);
        }

        return (n / 16 * 5 + 2) * Math.Pow(2, -23) * abs + 1e-30;
    }

    [Fact]
    public void DotEqualsDequantizeThenDot()
    {
        DotEntry dot = DotRegistry.TryGet(QuantType.NVFP4)!;
        const int n = 512;
        for (ulong seed = 1; seed <= 3; seed++)
        {
            byte[] w = DotTestSupport.Quantize(QuantType.NVFP4, TestData.TransformerLike(seed, n), n);
            byte[] a = Activations(dot, TestData.HeavyTailed(seed + 100, n));
            float[] wd = DotTestSupport.Dequantize(QuantType.NVFP4, w);
            float[] ad = DotTestSupport.Dequantize(QuantType.Q8_0, a);
            double expected = 0;
            for (int j = 0; j < n; j++)
            {
                expected += (double)wd[j] * ad[j];
            }

            double bound = Bound(w, a, n);
            Assert.True(Math.Abs(dot.Dot(w, a, n) - expected) <= bound, $"seed {seed}: {dot.Dot(w, a, n)} vs {expected}, bound {bound:E3}");
            Assert.True(Math.Abs(dot.DotReference(w, a, n) - expected) <= bound);
        }
    }

    [Fact]
    public void DotAgreesWithGgmlVecDot()
    {
        if (!GgmlNative.IsAvailable)
        {
            Assert.False(GgmlNative.IsByteReference, GgmlNative.LoadError);
            Assert.Skip("ggml is not available on this platform: " + GgmlNative.LoadError);
        }

        DotEntry dot = DotRegistry.TryGet(QuantType.NVFP4)!;
        foreach (int blocks in new[] { 1, 3, 8, 16 })
        {
            int n = blocks * 256;
            byte[] w = DotTestSupport.Quantize(QuantType.NVFP4, TestData.TransformerLike((ulong)(blocks + 17), n), n);
            byte[] a = Activations(dot, TestData.Gaussian((ulong)(blocks + 71), n, 0.7));
            float theirs = GgmlDot(dot, w, a, n);
            float ours = dot.Dot(w, a, n);
            double bound = 2 * Bound(w, a, n); // both sides reorder the float terms
            Assert.True(Math.Abs(ours - (double)theirs) <= bound, $"n={n}: ours {ours}, ggml {theirs}, bound {bound:E3}");
        }
    }

    [Fact]
    public void ShortSpansAreRejected()
    {
        DotEntry dot = DotRegistry.TryGet(QuantType.NVFP4)!;
        var w = new byte[BlockNVFP4.Size];
        var a = new byte[68];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.Dot(w.AsSpan(1), a, 64)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => dot.Dot(w, a.AsSpan(1), 64)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => dot.Dot(w, a, 32)).ParamName);
    }
}
