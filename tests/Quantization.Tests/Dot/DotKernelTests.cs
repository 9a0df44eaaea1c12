using Quantization.Kernels.Dot;
using Quantization.Oracle;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// The fused dot kernels: integer sums of every instruction-set path equal the scalar reference's exactly; the float
/// results agree with the reference, with dequantize-then-dot and with ggml's <c>ggml_vec_dot_*</c> within the
/// summation-order bound of <see cref="DotTestSupport.SummationBound"/>.
/// </summary>
public sealed class DotKernelTests
{
    public static TheoryData<QuantType> DotTypes() => DotTestSupport.DotTypes();

    public static TheoryData<QuantType> Block32DotTypes() => DotTestSupport.Block32DotTypes();

    private static readonly DotPath[] s_paths = Enum.GetValues<DotPath>();

    [Theory]
    [MemberData(nameof(Block32DotTypes))]
    public void IntegerSumsOfEveryPathEqualScalarOnArbitraryBytes(QuantType type)
    {
        Paths paths = For(type)!;
        DotEntry dot = DotRegistry.TryGet(type)!;
        const int blocks = 67;
        var rng = new Random(1234 + (int)type);
        var w = new byte[blocks * dot.WeightFormat.BytesPerBlock];
        rng.NextBytes(w); // every code byte, -128 included for Q8_0; scales may be NaN (integers do not care)
        var a = new byte[blocks * dot.ActivationFormat.BytesPerBlock];
        rng.NextBytes(a);
        int qs = paths.HasMin ? 4 : 2;
        for (int b = 0; b < blocks; b++)
        {
            for (int j = 0; j < 32; j++)
            {
                a[b * dot.ActivationFormat.BytesPerBlock + qs + j] = (byte)(sbyte)rng.Next(-127, 128); // Q8 codes never −128
            }

            if (b % 7 == 0)
            {
                for (int j = 0; j < 32; j++)
                {
                    a[b * dot.ActivationFormat.BytesPerBlock + qs + j] = (byte)(sbyte)(j % 2 == 0 ? 127 : -127); // extremes
                }

                for (int j = 2; j < dot.WeightFormat.BytesPerBlock; j++)
                {
                    w[b * dot.WeightFormat.BytesPerBlock + j] = (byte)(b % 14 == 0 ? 0xFF : 0x80); // extreme codes
                }
            }
        }

        var expected = new int[blocks];
        paths.IntegerSums(DotPath.Scalar, w, a, blocks * 32, expected);
        int checkedPaths = 0;
        foreach (DotPath path in s_paths)
        {
            if (path == DotPath.Scalar || !paths.IsSupported(path))
            {
                continue;
            }

            var actual = new int[blocks];
            paths.IntegerSums(path, w, a, blocks * 32, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{type} {path}: integer sums differ from the scalar reference at block {expected.AsSpan().CommonPrefixLength(actual)}");
            checkedPaths++;
        }

        Assert.True(checkedPaths > 0 || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, "no vector path ran");
    }

    [Theory]
    [MemberData(nameof(Block32DotTypes))]
    public void EveryPathAgreesWithTheReferenceWithinTheSummationBound(QuantType type)
    {
        Paths paths = For(type)!;
        DotEntry dot = DotRegistry.TryGet(type)!;
        foreach (int n in new[] { 32, 64, 96, 4096 })
        {
            float[] wf = TestData.TransformerLike((ulong)(n + (int)type), n);
            float[] x = TestData.Gaussian((ulong)(n * 3 + 1), n, 1.5);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            byte[] a = Activations(dot, x);
            double bound = SummationBound(type, w, DotTestSupport.Dequantize(type, w), 0, a, DotTestSupport.Dequantize(dot.ActivationType, a), n);
            float reference = dot.DotReference(w, a, n);
            foreach (DotPath path in s_paths)
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
    [MemberData(nameof(Block32DotTypes))]
    public void DotEqualsDequantizeThenDot(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = 8 * Math.Max(dot.WeightFormat.BlockSize, dot.ActivationFormat.BlockSize);
        for (ulong seed = 1; seed <= 4; seed++)
        {
            float[] wf = seed == 4 ? TestData.Uniform(seed, n, -0.5, 2.0) : TestData.TransformerLike(seed, n); // an offset block exercises the min term
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

            // Q8_1 stores s = d·Σq rounded to FP16: the min term may differ from Σ m·a by 2⁻¹¹ relative.
            double bound = SummationBound(type, w, wd, 0, a, ad, n);
            if (dot.ActivationType == QuantType.Q8_1)
            {
                for (int b = 0; b < n / 32; b++)
                {
                    bound += Math.Pow(2, -10) * Math.Abs((double)Half(w, b * dot.WeightFormat.BytesPerBlock + 2) * Half(a, b * 36 + 2));
                }
            }

            Assert.True(Math.Abs(dot.Dot(w, a, n) - expected) <= bound, $"{type} seed {seed}: {dot.Dot(w, a, n)} vs {expected}, bound {bound:E3}");
            Assert.True(Math.Abs(dot.DotReference(w, a, n) - expected) <= bound);
        }
    }

    [Theory]
    [MemberData(nameof(Block32DotTypes))]
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
            // Both sides reorder the float terms: twice the one-sided bound.
            double bound = 2 * SummationBound(type, w, DotTestSupport.Dequantize(type, w), 0, a, DotTestSupport.Dequantize(dot.ActivationType, a), n);
            Assert.True(Math.Abs(ours - (double)theirs) <= bound, $"{type} n={n}: ours {ours}, ggml {theirs}, bound {bound:E3}");
        }
    }

    [Theory]
    [MemberData(nameof(DotTypes))]
    public void DotRowsEqualsDotRowByRowToTheBit(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = 4 * Math.Max(dot.WeightFormat.BlockSize, dot.ActivationFormat.BlockSize);
        int rowBytes = n / dot.WeightFormat.BlockSize * dot.WeightFormat.BytesPerBlock;
        for (int rows = 1; rows <= 9; rows++)
        {
            byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)rows, rows * n), n);
            byte[] a = Activations(dot, TestData.Gaussian((ulong)rows + 9, n, 1));
            var results = new float[rows];
            dot.DotRows(w, rowBytes, a, n, results);
            for (int r = 0; r < rows; r++)
            {
                float single = dot.Dot(w.AsSpan(r * rowBytes, rowBytes), a, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]), $"{type} row {r} of {rows}: {results[r]} vs {single}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Block32DotTypes))]
    public void ShortSpansAreRejected(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        int n = Math.Max(dot.WeightFormat.BlockSize, dot.ActivationFormat.BlockSize);
        var w = new byte[n / dot.WeightFormat.BlockSize * dot.WeightFormat.BytesPerBlock];
        var a = new byte[n / dot.ActivationFormat.BlockSize * dot.ActivationFormat.BytesPerBlock];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.Dot(w.AsSpan(1), a, n)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => dot.Dot(w, a.AsSpan(1), n)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => dot.Dot(w, a, n + 1)).ParamName);
    }
}

public sealed class DotRowsPathTests
{
    [Theory]
    [MemberData(nameof(DotKernelTests.Block32DotTypes), MemberType = typeof(DotKernelTests))]
    public void EveryPathsRowLoopEqualsItsOneRowDotToTheBit(QuantType type)
    {
        Paths paths = For(type)!;
        DotEntry dot = DotRegistry.TryGet(type)!;
        foreach (int n in new[] { 96, 8192 + 64 }) // the larger one takes pooled scratch for the prepared activations
        {
            int rowBytes = n / 32 * dot.WeightFormat.BytesPerBlock;
            const int rows = 6;
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
                    Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]), $"{type} {path} n={n} row {r}: {results[r]} vs {single}");
                }
            }
        }
    }
}
