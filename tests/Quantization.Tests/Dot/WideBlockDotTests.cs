using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// The dot kernels of the legacy formats whose block spans several Q8_0 blocks (Q1_0, Q2_0; <see cref="WideBlockDot{TWeights}"/>):
/// every path's integer sums equal the scalar reference's exactly; float results agree with the reference, with
/// dequantize-then-dot and with ggml's <c>ggml_vec_dot_*</c> within the summation-order bound.
/// </summary>
public sealed class WideBlockDotTests
{
    public static TheoryData<QuantType> WideTypes() => [QuantType.Q1_0, QuantType.Q2_0];

    private static Paths PathsOf(QuantType type) => type switch
    {
        QuantType.Q1_0 => Of<Q1_0Weights>(),
        QuantType.Q2_0 => Of<Q2_0Weights>(),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static Paths Of<T>() where T : IWideBlockWeights =>
        new(WideBlockDot<T>.IsSupported, WideBlockDot<T>.IntegerSums, WideBlockDot<T>.DotOn, WideBlockDot<T>.DotRowsOn, HasMin: false);

    [Fact]
    public void EveryRegisteredWideLegacyDotIsCovered()
    {
        QuantType[] wide = [.. DotRegistry.All.Where(e => FormatRegistry.TryGet(e.WeightType)!.Family == FormatFamily.Legacy && e.WeightFormat.BlockSize > 32).Select(e => e.WeightType)];
        Assert.Equal([QuantType.Q1_0, QuantType.Q2_0], wide);
        Assert.All(wide, t => Assert.Equal(QuantType.Q8_0, DotRegistry.TryGet(t)!.ActivationType));
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void IntegerSumsOfEveryPathEqualScalarOnArbitraryBytes(QuantType type)
    {
        Paths paths = PathsOf(type);
        DotEntry dot = DotRegistry.TryGet(type)!;
        int blockSize = dot.WeightFormat.BlockSize;
        const int blocks = 37;
        int n = blocks * blockSize;
        var rng = new Random(4321 + (int)type);
        var w = new byte[blocks * dot.WeightFormat.BytesPerBlock];
        rng.NextBytes(w);
        var a = new byte[n / 32 * BlockQ8_0.Size];
        rng.NextBytes(a);
        for (int b = 0; b < n / 32; b++)
        {
            for (int j = 0; j < 32; j++)
            {
                // Q8 codes never −128; every eighth block at the extremes.
                a[b * BlockQ8_0.Size + 2 + j] = (byte)(sbyte)(b % 8 == 0 ? (j % 2 == 0 ? 127 : -127) : rng.Next(-127, 128));
            }
        }

        for (int b = 0; b < blocks; b += 5)
        {
            // Extreme codes: all bits set (Q1_0 +1, Q2_0 code 3 = +2), then all clear.
            w.AsSpan(b * dot.WeightFormat.BytesPerBlock + 2, dot.WeightFormat.BytesPerBlock - 2).Fill((byte)(b % 10 == 0 ? 0xFF : 0x00));
        }

        var expected = new int[n / 32];
        paths.IntegerSums(DotPath.Scalar, w, a, n, expected);
        int checkedPaths = 0;
        foreach (DotPath path in Enum.GetValues<DotPath>())
        {
            if (path == DotPath.Scalar || !paths.IsSupported(path))
            {
                continue;
            }

            var actual = new int[n / 32];
            paths.IntegerSums(path, w, a, n, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{type} {path}: integer sums differ from the scalar reference at slice {expected.AsSpan().CommonPrefixLength(actual)}");
            checkedPaths++;
        }

        Assert.True(checkedPaths > 0 || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, "no vector path ran");
    }

    /// <summary>The scalar integer sums are Σ code·y with the codes of the dequantizer (d = 1): the reference is checked too.</summary>
    [Theory]
    [MemberData(nameof(WideTypes))]
    public void ReferenceIntegerSumsAreTheDequantizedCodesTimesTheActivations(QuantType type)
    {
        Paths paths = PathsOf(type);
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = 3 * dot.WeightFormat.BlockSize;
        var rng = new Random(99 + (int)type);
        var w = new byte[3 * dot.WeightFormat.BytesPerBlock];
        rng.NextBytes(w);
        for (int b = 0; b < 3; b++)
        {
            w[b * dot.WeightFormat.BytesPerBlock] = 0x00;
            w[b * dot.WeightFormat.BytesPerBlock + 1] = 0x3C; // d = 1: the dequantized values are the codes
        }

        var a = new byte[n / 32 * BlockQ8_0.Size];
        for (int j = 0; j < a.Length; j++)
        {
            a[j] = (byte)(sbyte)rng.Next(-127, 128);
        }

        float[] codes = DotTestSupport.Dequantize(type, w);
        var sums = new int[n / 32];
        paths.IntegerSums(DotPath.Scalar, w, a, n, sums);
        for (int s = 0; s < n / 32; s++)
        {
            int expected = 0;
            for (int j = 0; j < 32; j++)
            {
                expected += (int)codes[32 * s + j] * (sbyte)a[s * BlockQ8_0.Size + 2 + j];
            }

            Assert.Equal(expected, sums[s]);
        }
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void EveryPathAgreesWithTheReferenceWithinTheSummationBound(QuantType type)
    {
        Paths paths = PathsOf(type);
        DotEntry dot = DotRegistry.TryGet(type)!;
        int blockSize = dot.WeightFormat.BlockSize;
        foreach (int blocks in new[] { 1, 2, 3, 32 })
        {
            int n = blocks * blockSize;
            float[] wf = TestData.TransformerLike((ulong)(n + (int)type), n);
            float[] x = TestData.Gaussian((ulong)(n * 3 + 1), n, 1.5);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            byte[] a = Activations(dot, x);
            double bound = SummationBound(type, w, DotTestSupport.Dequantize(type, w), 0, a, DotTestSupport.Dequantize(dot.ActivationType, a), n);
            float reference = dot.DotReference(w, a, n);
            foreach (DotPath path in Enum.GetValues<DotPath>())
            {
                if (!paths.IsSupported(path))
                {
                    continue;
                }

                float actual = paths.DotOn(path, w, a, n);
                Assert.True(Math.Abs(actual - (double)reference) <= bound, $"{type} {path} n={n}: {actual} vs reference {reference}, bound {bound:E3}");
            }

            Assert.True(Math.Abs(dot.Dot(w, a, n) - (double)reference) <= bound);
        }
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void DotEqualsDequantizeThenDot(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = 8 * dot.WeightFormat.BlockSize;
        for (ulong seed = 1; seed <= 4; seed++)
        {
            float[] wf = seed == 4 ? TestData.Uniform(seed, n, -0.5, 2.0) : TestData.TransformerLike(seed, n);
            float[] x = TestData.HeavyTailed(seed + 100, n);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            byte[] a = Activations(dot, x);
            float[] wd = DotTestSupport.Dequantize(type, w);
            float[] ad = DotTestSupport.Dequantize(dot.ActivationType, a);
            double expected = 0;
            for (int j = 0; j < n; j++)
            {
                expected += (double)wd[j] * ad[j];
            }

            double bound = SummationBound(type, w, wd, 0, a, ad, n);
            Assert.True(Math.Abs(dot.Dot(w, a, n) - expected) <= bound, $"{type} seed {seed}: {dot.Dot(w, a, n)} vs {expected}, bound {bound:E3}");
            Assert.True(Math.Abs(dot.DotReference(w, a, n) - expected) <= bound);
        }
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void DotAgreesWithGgmlVecDot(QuantType type)
    {
        if (!GgmlNative.IsAvailable)
        {
            Assert.False(GgmlNative.IsByteReference, GgmlNative.LoadError);
            Assert.Skip("ggml is not available on this platform: " + GgmlNative.LoadError);
        }

        DotEntry dot = DotRegistry.TryGet(type)!;
        foreach (int blocks in new[] { 1, 3, 8, 16 })
        {
            int n = blocks * 256;
            float[] wf = TestData.TransformerLike((ulong)(blocks + 17), n);
            float[] x = TestData.Gaussian((ulong)(blocks + 71), n, 0.7);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            byte[] a = Activations(dot, x);
            float theirs = GgmlDot(dot, w, a, n);
            float ours = dot.Dot(w, a, n);
            double bound = 2 * SummationBound(type, w, DotTestSupport.Dequantize(type, w), 0, a, DotTestSupport.Dequantize(dot.ActivationType, a), n);
            Assert.True(Math.Abs(ours - (double)theirs) <= bound, $"{type} n={n}: ours {ours}, ggml {theirs}, bound {bound:E3}");
            Assert.True(Math.Abs(dot.DotReference(w, a, n) - (double)theirs) <= bound, $"{type} n={n}: reference {dot.DotReference(w, a, n)}, ggml {theirs}");
        }
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void EveryPathsRowLoopEqualsItsOneRowDotToTheBit(QuantType type)
    {
        Paths paths = PathsOf(type);
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = 6 * dot.WeightFormat.BlockSize;
        int rowBytes = n / dot.WeightFormat.BlockSize * dot.WeightFormat.BytesPerBlock;
        const int rows = 5;
        byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)n, rows * n), n);
        byte[] a = Activations(dot, TestData.Gaussian(7, n, 1));
        foreach (DotPath path in Enum.GetValues<DotPath>())
        {
            if (!paths.IsSupported(path))
            {
                continue;
            }

            var results = new float[rows];
            paths.DotRowsOn(path, w, rowBytes, a, n, results);
            for (int r = 0; r < rows; r++)
            {
                float single = paths.DotOn(path, w.AsSpan(r * rowBytes, rowBytes), a, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]), $"{type} {path} row {r}: {results[r]} vs {single}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(WideTypes))]
    public void ShortSpansAreRejected(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = dot.WeightFormat.BlockSize;
        var w = new byte[dot.WeightFormat.BytesPerBlock];
        var a = new byte[n / 32 * BlockQ8_0.Size];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.Dot(w.AsSpan(1), a, n)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => dot.Dot(w, a.AsSpan(1), n)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => dot.Dot(w, a, n + 32)).ParamName);
    }
}
