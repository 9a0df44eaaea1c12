using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Properties;

/// <summary>
/// Properties over every registered kernel: the vector path (whatever tier this process runs) equals the scalar
/// reference bit for bit, round trips stay within each format's bound, and idempotence where the format has it.
/// </summary>
public sealed class KernelProperties
{
    public static TheoryData<QuantType> QuantizableTypes()
    {
        var data = new TheoryData<QuantType>();
        foreach (KernelEntry e in KernelRegistry.All.Where(e => e.CanQuantize))
        {
            data.Add(e.Type);
        }

        return data;
    }

    /// <summary>Random rows: a block count, a scale spanning many decades, a data-set kind and a seed.</summary>
    private static float[] Row(QuantType type, int blocks, int decade, int kind, ulong seed)
    {
        int n = blocks * QuantFormat.Get(type).BlockSize;
        double scale = Math.Pow(10, decade);
        float[] x = (kind % 4) switch
        {
            0 => TestData.Gaussian(seed, n, scale),
            1 => TestData.HeavyTailed(seed, n),
            2 => TestData.Adversarial(seed, n == 0 ? 0 : Math.Max(n, 32))[..n],
            _ => TestData.Uniform(seed, n, -scale, scale * 0.3),
        };
        return Conformance.ConformanceCase.BoundedForAborts(type, x);
    }

    [Theory]
    [MemberData(nameof(QuantizableTypes))]
    public void VectorQuantizeEqualsScalarReference(QuantType type)
    {
        KernelEntry kernel = KernelRegistry.TryGet(type)!;
        Prop.ForAll(
            Gen.Choose(1, 12).ToArbitrary(), Gen.Choose(-12, 12).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, decade, seed) =>
            {
                int kind = (int)(seed % 8);
                float[] x = Row(type, blocks, decade, kind, seed);
                bool required = FormatRegistry.TryGet(type)!.Importance == ImportanceUse.Required;
                float[] importance = kind >= 4 || required ? TestData.Importance(seed, x.Length, withZeros: kind == 5) : [];
                var fast = new byte[Quantizer.GetByteCount(type, x.Length)];
                var reference = new byte[fast.Length];
                if (Conformance.ConformanceCase.LatticeSearchRefuses(type, x))
                {
                    // ggml aborts on these rows; both paths refuse them.
                    Assert.Throws<ArgumentException>(() => kernel.Quantize!(x, fast, importance));
                    Assert.Throws<ArgumentException>(() => kernel.QuantizeReference!(x, reference, importance));
                    return;
                }

                kernel.Quantize!(x, fast, importance);
                kernel.QuantizeReference!(x, reference, importance);
                AssertBytes.Equal(reference, fast, type);
            }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [MemberData(nameof(QuantizableTypes))]
    public void VectorDequantizeEqualsScalarReferenceOnArbitraryBytes(QuantType type)
    {
        KernelEntry kernel = KernelRegistry.TryGet(type)!;
        QuantFormat format = kernel.Format;
        Prop.ForAll(
            Gen.Choose(0, 9).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, seed) =>
            {
                // Any bit pattern, NaN and infinite scales included: both paths must agree on every one.
                var rng = new TestRng(seed);
                var bytes = new byte[Quantizer.GetByteCount(type, (long)blocks * format.BlockSize)];
                for (int i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = (byte)rng.NextUInt64();
                }

                var fast = new float[blocks * format.BlockSize];
                var reference = new float[fast.Length];
                kernel.Dequantize!(bytes, fast);
                kernel.DequantizeReference!(bytes, reference);
                AssertBytes.EqualOrBothNaN(reference, fast, type);
            }).QuickCheckThrowOnFailure();
    }

    /// <summary>RMSE relative to the signal RMS that each format must stay under on Gaussian data.</summary>
    [Theory]
    [InlineData(QuantType.F16, 0.001)]
    [InlineData(QuantType.BF16, 0.005)]
    [InlineData(QuantType.Q8_0, 0.015)]
    [InlineData(QuantType.Q8_1, 0.015)]
    [InlineData(QuantType.Q8_K, 0.015)]
    [InlineData(QuantType.Q5_0, 0.08)]
    [InlineData(QuantType.Q5_1, 0.08)]
    [InlineData(QuantType.Q4_0, 0.16)]
    [InlineData(QuantType.Q4_1, 0.16)]
    [InlineData(QuantType.NF4, 0.13)]
    [InlineData(QuantType.FP4, 0.2)]
    [InlineData(QuantType.MXFP4, 0.22)]
    [InlineData(QuantType.NVFP4, 0.16)]
    public void RoundTripErrorIsBounded(QuantType type, double maxRelativeRmse)
    {
        Prop.ForAll(
            // Scales from 1e-3 to 1e3 keep the FP16 block scales in their normal range.
            Gen.Choose(1, 16).ToArbitrary(), Gen.Choose(-3, 3).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, decade, seed) =>
            {
                // At least 32 values per "block" for the element formats: one tiny value alone can sit in the FP16
                // subnormal range, where the relative error is no longer bounded.
                int n = blocks * Math.Max(32, QuantFormat.Get(type).BlockSize);
                // NVFP4's UE4M3 scales span only 2^−10 … 224 with no per-tensor scale: Gaussians from 0.1 to 100 stay in range.
                int scaleDecade = type == QuantType.NVFP4 ? Math.Clamp(decade, -1, 2) : decade;
                float[] x = TestData.Gaussian(seed, n, Math.Pow(10, scaleDecade));
                var q = new byte[Quantizer.GetByteCount(type, n)];
                var y = new float[n];
                Quantizer.Quantize(type, x, q, n);
                Quantizer.Dequantize(type, q, y);
                double err = 0, sig = 0;
                for (int i = 0; i < n; i++)
                {
                    err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                    sig += (double)x[i] * x[i];
                }

                Assert.True(Math.Sqrt(err / n) <= maxRelativeRmse * Math.Sqrt(sig / n) + 1e-30,
                    $"{type}: rmse {Math.Sqrt(err / n)} vs signal rms {Math.Sqrt(sig / n)}");
            }).QuickCheckThrowOnFailure();
    }

    /// <summary>Q8_0 and the float formats reproduce their own decoded values exactly.</summary>
    [Theory]
    [InlineData(QuantType.F16)]
    [InlineData(QuantType.BF16)]
    [InlineData(QuantType.Q8_0)]
    public void RequantizingDecodedValuesIsIdempotent(QuantType type)
    {
        Prop.ForAll(
            Gen.Choose(1, 8).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, seed) =>
            {
                int n = blocks * QuantFormat.Get(type).BlockSize;
                float[] x = TestData.Gaussian(seed, n, 1.0);
                var q1 = new byte[Quantizer.GetByteCount(type, n)];
                var q2 = new byte[q1.Length];
                var y = new float[n];
                Quantizer.Quantize(type, x, q1, n);
                Quantizer.Dequantize(type, q1, y);
                Quantizer.Quantize(type, y, q2, n);
                AssertBytes.Equal(q1, q2, type);
            }).QuickCheckThrowOnFailure();
    }
}
