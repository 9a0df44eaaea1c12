using System.Runtime.InteropServices;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Dot;

/// <summary>
/// The fused K-quant / IQ4_XS × Q8_K dot products: every vector path's integer super-block sums equal the scalar
/// reference's exactly; the float results agree with ggml's <c>ggml_vec_dot_*_q8_K</c> and with dequantize-then-dot
/// within the bound <see cref="Tolerance"/> states.
/// </summary>
public sealed unsafe class KQuantDotTests
{
    private delegate float DotFn(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

    private delegate float DotOnFn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

    private delegate (int Sum, int Mins) SumsFn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i);

    /// <summary>One format's kernel: byte offsets of d and dmin (−1 when the format has no min) for the error bound.</summary>
    private sealed record Kernel(QuantType Type, string GgmlName, DotFn Dot, DotFn Reference, DotOnFn DotOn, SumsFn Sums, int DOffset, int DminOffset);

    private static readonly Kernel[] s_kernels =
    [
        new(QuantType.Q2_K, "q2_K", KDotKernel<Q2_KDot, BlockQ2_K>.Dot, KDotKernel<Q2_KDot, BlockQ2_K>.DotReference, KDotKernel<Q2_KDot, BlockQ2_K>.DotOn, Q2_KDot.SuperBlockSums, 80, 82),
        new(QuantType.Q3_K, "q3_K", KDotKernel<Q3_KDot, BlockQ3_K>.Dot, KDotKernel<Q3_KDot, BlockQ3_K>.DotReference, KDotKernel<Q3_KDot, BlockQ3_K>.DotOn, KDot.ScaledSuperBlockSums<Q3_KDot, BlockQ3_K>, -1, -1),
        new(QuantType.Q4_K, "q4_K", KDotKernel<Q4_KDot, BlockQ4_K>.Dot, KDotKernel<Q4_KDot, BlockQ4_K>.DotReference, KDotKernel<Q4_KDot, BlockQ4_K>.DotOn, Q4_KDot.SuperBlockSums, 0, 2),
        new(QuantType.Q5_K, "q5_K", KDotKernel<Q5_KDot, BlockQ5_K>.Dot, KDotKernel<Q5_KDot, BlockQ5_K>.DotReference, KDotKernel<Q5_KDot, BlockQ5_K>.DotOn, Q5_KDot.SuperBlockSums, 0, 2),
        new(QuantType.Q6_K, "q6_K", KDotKernel<Q6_KDot, BlockQ6_K>.Dot, KDotKernel<Q6_KDot, BlockQ6_K>.DotReference, KDotKernel<Q6_KDot, BlockQ6_K>.DotOn, KDot.ScaledSuperBlockSums<Q6_KDot, BlockQ6_K>, -1, -1),
        new(QuantType.IQ4_XS, "iq4_xs", KDotKernel<IQ4_XSDot, BlockIQ4_XS>.Dot, KDotKernel<IQ4_XSDot, BlockIQ4_XS>.DotReference, KDotKernel<IQ4_XSDot, BlockIQ4_XS>.DotOn, KDot.ScaledSuperBlockSums<IQ4_XSDot, BlockIQ4_XS>, -1, -1),
        new(QuantType.IQ3_XXS, "iq3_xxs", KDotKernel<IQ3_XXSDot, BlockIQ3_XXS>.Dot, KDotKernel<IQ3_XXSDot, BlockIQ3_XXS>.DotReference, KDotKernel<IQ3_XXSDot, BlockIQ3_XXS>.DotOn, KDot.ScaledSuperBlockSums<IQ3_XXSDot, BlockIQ3_XXS>, -1, -1),
        new(QuantType.IQ3_S, "iq3_s", KDotKernel<IQ3_SDot, BlockIQ3_S>.Dot, KDotKernel<IQ3_SDot, BlockIQ3_S>.DotReference, KDotKernel<IQ3_SDot, BlockIQ3_S>.DotOn, KDot.ScaledSuperBlockSums<IQ3_SDot, BlockIQ3_S>, -1, -1),
        new(QuantType.IQ2_XXS, "iq2_xxs", KDotKernel<IQ2_XXSDot, BlockIQ2_XXS>.Dot, KDotKernel<IQ2_XXSDot, BlockIQ2_XXS>.DotReference, KDotKernel<IQ2_XXSDot, BlockIQ2_XXS>.DotOn, KDot.ScaledSuperBlockSums<IQ2_XXSDot, BlockIQ2_XXS>, -1, -1),
        new(QuantType.IQ2_XS, "iq2_xs", KDotKernel<IQ2_XSDot, BlockIQ2_XS>.Dot, KDotKernel<IQ2_XSDot, BlockIQ2_XS>.DotReference, KDotKernel<IQ2_XSDot, BlockIQ2_XS>.DotOn, KDot.ScaledSuperBlockSums<IQ2_XSDot, BlockIQ2_XS>, -1, -1),
        new(QuantType.IQ2_S, "iq2_s", KDotKernel<IQ2_SDot, BlockIQ2_S>.Dot, KDotKernel<IQ2_SDot, BlockIQ2_S>.DotReference, KDotKernel<IQ2_SDot, BlockIQ2_S>.DotOn, KDot.ScaledSuperBlockSums<IQ2_SDot, BlockIQ2_S>, -1, -1),
        new(QuantType.IQ1_S, "iq1_s", KDotKernel<IQ1_SDot, BlockIQ1_S>.Dot, KDotKernel<IQ1_SDot, BlockIQ1_S>.DotReference, KDotKernel<IQ1_SDot, BlockIQ1_S>.DotOn, IQ1_SDot.SuperBlockSums, -1, -1),
        new(QuantType.IQ1_M, "iq1_m", KDotKernel<IQ1_MDot, BlockIQ1_M>.Dot, KDotKernel<IQ1_MDot, BlockIQ1_M>.DotReference, KDotKernel<IQ1_MDot, BlockIQ1_M>.DotOn, IQ1_MDot.SuperBlockSums, -1, -1),
    ];

    private static Kernel Get(QuantType type) => s_kernels.Single(k => k.Type == type);

    public static TheoryData<QuantType> Types() => [.. s_kernels.Select(k => k.Type)];

    /// <summary>
    /// The list above is written by hand (each kernel's own per-path sums); a registered Q8_K dot it misses fails here.
    /// The ternary formats' per-path sums are TernaryDotTests'.
    /// </summary>
    [Fact]
    public void EveryRegisteredQ8KDotIsListed()
    {
        QuantType[] registered = [.. DotRegistry.All.Where(e => e.ActivationType == QuantType.Q8_K && e.WeightType is not (QuantType.TQ1_0 or QuantType.TQ2_0))
                                                    .Select(e => e.WeightType).Order()];
        Assert.Equal(registered, [.. s_kernels.Select(k => k.Type).Order()]);
    }

    public static TheoryData<QuantType, int, bool> FloatCases()
    {
        var data = new TheoryData<QuantType, int, bool>();
        foreach (Kernel k in s_kernels)
        {
            foreach (int n in new[] { 256, 512, 1280, 4096 })
            {
                data.Add(k.Type, n, false);
                data.Add(k.Type, n, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FloatCases))]
    public void DotAgreesWithGgmlAndDequantizedDot(QuantType type, int n, bool heavyTailed)
    {
        Kernel k = Get(type);
        for (ulong seed = 1; seed <= 3; ++seed)
        {
            float[] w = heavyTailed ? TestData.HeavyTailed(seed, n) : TestData.Gaussian(seed, n, 1.0);
            float[] a = heavyTailed ? TestData.HeavyTailed(seed + 100, n) : TestData.Gaussian(seed + 100, n, 0.5);
            byte[] wq = Quantize(type, w);
            byte[] aq = Quantize(QuantType.Q8_K, a);
            double bound = Tolerance(k, wq, aq, n);

            float ours = k.Dot(wq, aq, n);
            float reference = k.Reference(wq, aq, n);
            double dequantized = DequantizedDot(type, wq, aq, n);
            AssertClose(dequantized, reference, bound, "reference vs dequantized");
            AssertClose(dequantized, ours, bound, "Dot vs dequantized");
            AssertClose(reference, ours, bound, "Dot vs reference");
            foreach (DotPath path in Enum.GetValues<DotPath>().Where(KDot.IsSupported))
            {
                float onPath = k.DotOn(path, wq, aq, n);
                AssertClose(reference, onPath, bound, $"{path} vs reference");
                if (path == KDot.BestPath)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(ours), BitConverter.SingleToInt32Bits(onPath));
                }
            }

            if (GgmlNative.IsAvailable)
            {
                float ggml = GgmlDot(k.GgmlName, wq, aq, n);
                AssertClose(ggml, ours, bound, "Dot vs ggml");
                AssertClose(ggml, reference, bound, "reference vs ggml");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryPathHasTheReferenceIntegerSums(QuantType type)
    {
        Kernel k = Get(type);
        int blockBytes = (int)Quantizer.GetByteCount(type, 256);
        const int Blocks = 24;
        var rng = new TestRng(17);
        var wq = new byte[Blocks * blockBytes];
        var aq = new byte[Blocks * BlockQ8_K.Size];
        for (int i = 0; i < Blocks; ++i)
        {
            // Random bytes reach every code and scale; the last blocks are all-ones bits against ±127 activations.
            Span<byte> wb = wq.AsSpan(i * blockBytes, blockBytes);
            for (int j = 0; j < wb.Length; ++j)
            {
                wb[j] = (byte)rng.NextUInt64();
            }

            ref BlockQ8_K y = ref MemoryMarshal.AsRef<BlockQ8_K>(aq.AsSpan(i * BlockQ8_K.Size, BlockQ8_K.Size));
            y.D = 1;
            for (int e = 0; e < 256; ++e)
            {
                y.Qs[e] = i switch
                {
                    Blocks - 1 => 127,
                    Blocks - 2 => -127,
                    Blocks - 3 => (sbyte)(e % 2 == 0 ? 127 : -127),
                    _ => (sbyte)(rng.NextInt(255) - 127),
                };
            }

            if (i >= Blocks - 3)
            {
                wb.Fill(0xFF);
            }
            else if (i >= Blocks - 6)
            {
                wb.Fill((byte)(i % 2 == 0 ? 0x00 : 0xAA));
            }

            for (int g = 0; g < 16; ++g)
            {
                int s = 0;
                for (int e = 0; e < 16; ++e)
                {
                    s += y.Qs[16 * g + e];
                }

                y.Bsums[g] = (short)s;
            }
        }

        int checkedPaths = 0;
        foreach (DotPath path in Enum.GetValues<DotPath>())
        {
            if (path == DotPath.Scalar || !KDot.IsSupported(path))
            {
                continue;
            }

            checkedPaths++;
            for (int i = 0; i < Blocks; ++i)
            {
                Assert.Equal(k.Sums(DotPath.Scalar, wq, aq, i), k.Sums(path, wq, aq, i));
            }
        }

        Assert.True(checkedPaths > 0 || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, "no vector path ran");
        TestContext.Current.TestOutputHelper?.WriteLine($"{type}: {checkedPaths} vector paths checked; Dot uses {KDot.BestPath}");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void BadLengthsThrowWithTheParameterName(QuantType type)
    {
        Kernel k = Get(type);
        int blockBytes = (int)Quantizer.GetByteCount(type, 256);
        var w = new byte[2 * blockBytes];
        var a = new byte[2 * BlockQ8_K.Size];
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => k.Dot(w, a, 300)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => k.Dot(w, a, -256)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => k.Dot(w.AsSpan(1), a, 512)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => k.Dot(w, a.AsSpan(1), 512)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => k.Reference(w, a.AsSpan(0, 10), 512)).ParamName);
        Assert.Equal(0f, k.Dot(w, a, 0));
    }

    /// <summary>
    /// |Δ| ≤ 1e-5 · Σ_e |a_e| · S_b(e): S_b bounds, per super-block, the magnitude any path's integer partial sum can
    /// carry per unit of |a| (max |d·sc·q| + max |dmin·m| for formats with a min, 4·max |w| for the symmetric ones,
    /// whose vector paths may use q + offset and subtract the offset with the bsums). The float error of a kernel is
    /// a few ulps of that per super-block plus the summation of n/256 terms, far below 1e-5 relative for n ≤ 4096.
    /// </summary>
    private static double Tolerance(Kernel k, byte[] wq, byte[] aq, int n)
    {
        float[] w = Dequantize(k.Type, wq, n);
        float[] a = Dequantize(QuantType.Q8_K, aq, n);
        float[] minPart = [];
        if (k.DminOffset >= 0)
        {
            // Zeroing d leaves −dmin·m per value.
            byte[] onlyMin = (byte[])wq.Clone();
            int blockBytes = wq.Length / (n / 256);
            for (int b = 0; b < n / 256; ++b)
            {
                onlyMin[b * blockBytes + k.DOffset] = 0;
                onlyMin[b * blockBytes + k.DOffset + 1] = 0;
            }

            minPart = Dequantize(k.Type, onlyMin, n);
        }

        double total = 0;
        for (int b = 0; b < n / 256; ++b)
        {
            double s = 0, m = 0, aAbs = 0;
            for (int e = 256 * b; e < 256 * (b + 1); ++e)
            {
                aAbs += Math.Abs(a[e]);
                if (minPart.Length > 0)
                {
                    s = Math.Max(s, Math.Abs((double)w[e] - minPart[e]));
                    m = Math.Max(m, Math.Abs(minPart[e]));
                }
                else
                {
                    s = Math.Max(s, 4 * Math.Abs((double)w[e]));
                }
            }

            total += aAbs * (s + m);
        }

        return 1e-5 * total + 1e-30;
    }

    private static void AssertClose(double expected, double actual, double bound, string what) =>
        Assert.True(Math.Abs(expected - actual) <= bound, $"{what}: expected {expected:R}, got {actual:R}, |Δ| = {Math.Abs(expected - actual):R} > {bound:R}");

    private static double DequantizedDot(QuantType type, byte[] wq, byte[] aq, int n)
    {
        float[] w = Dequantize(type, wq, n);
        float[] a = Dequantize(QuantType.Q8_K, aq, n);
        double s = 0;
        for (int e = 0; e < n; ++e)
        {
            s += (double)w[e] * a[e];
        }

        return s;
    }

    private static byte[] Quantize(QuantType type, float[] x)
    {
        var q = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, q, x.Length, DotTestSupport.RequiredImportance(type, x.Length));
        return q;
    }

    private static float[] Dequantize(QuantType type, byte[] q, int n)
    {
        var x = new float[n];
        Quantizer.Dequantize(type, q, x);
        return x;
    }

    private static float GgmlDot(string name, byte[] wq, byte[] aq, int n)
    {
        var fn = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport($"ggml_vec_dot_{name}_q8_K");
        float s = 0;
        fixed (byte* x = wq)
        fixed (byte* y = aq)
        {
            fn(n, &s, 0, x, 0, y, 0, 1);
        }

        return s;
    }
}
