using FsCheck.Xunit;
using Quantization.Tests.Support;

namespace Quantization.Tests.Tools;

public sealed class QuantizationErrorTests
{
    /// <summary>The metrics written out the obvious way: one sequential double loop per quantity.</summary>
    private static (double Rmse, double Max, double Snr, double Cosine) Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sxx = 0, syy = 0, sxy = 0, sdd = 0, max = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double a = x[i], b = y[i], d = a - b;
            sxx += a * a;
            syy += b * b;
            sxy += a * b;
            sdd += d * d;
            max = Math.Max(max, Math.Abs(d));
        }

        double rmse = x.Length == 0 ? 0 : Math.Sqrt(sdd / x.Length);
        double snr = 10 * Math.Log10(sxx / sdd);
        double cosine = sxy / Math.Sqrt(sxx * syy);
        return (rmse, max, snr, cosine);
    }

    private static void AssertClose(double expected, double actual, double relative = 1e-10)
    {
        if (double.IsInfinity(expected) || expected == 0)
        {
            Assert.Equal(expected, actual);
            return;
        }

        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected),
            $"expected {expected:R}, actual {actual:R}");
    }

    private static float[] Perturb(float[] x, ulong seed, double noise)
    {
        var rng = new TestRng(seed);
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (float)(x[i] + rng.NextGaussian() * noise);
        }

        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(511)]
    [InlineData(512)]
    [InlineData(513)]
    [InlineData(4096 + 3)]
    public void ComputeMatchesDoubleLoop(int n)
    {
        float[] x = TestData.Gaussian(11, n, 1.5);
        float[] y = Perturb(x, 12, 0.01);

        QuantizationError e = QuantizationError.Compute(x, y);
        var r = Reference(x, y);

        Assert.Equal(n, e.Count);
        AssertClose(r.Rmse, e.Rmse);
        Assert.Equal(r.Max, e.MaxAbsoluteError); // a max is exact: no summation order involved
        AssertClose(r.Snr, e.SnrDecibels);
        AssertClose(r.Cosine, e.CosineSimilarity);
        AssertClose(r.Rmse * r.Rmse, e.MeanSquaredError);
    }

    [Property(MaxTest = 200)]
    public void ComputeMatchesDoubleLoopOnRandomData(int length, ulong seed, bool heavyTailed)
    {
        int n = 1 + (int)((uint)length % 3000);
        float[] x = heavyTailed ? TestData.HeavyTailed(seed, n) : TestData.Gaussian(seed, n, 0.02);
        float[] y = heavyTailed ? TestData.HeavyTailed(seed + 1, n) : Perturb(x, seed + 1, 0.001);

        QuantizationError e = QuantizationError.Compute(x, y);
        var r = Reference(x, y);

        AssertClose(r.Rmse, e.Rmse);
        Assert.Equal(r.Max, e.MaxAbsoluteError);
        AssertClose(r.Snr, e.SnrDecibels, 1e-9);
        Assert.True(Math.Abs(r.Cosine - e.CosineSimilarity) <= 1e-12, $"cosine {r.Cosine:R} vs {e.CosineSimilarity:R}");
    }

    [Property(MaxTest = 100)]
    public void SymmetricAndScaleInvariantWherePromised(int length, ulong seed)
    {
        int n = 1 + (int)((uint)length % 2000);
        float[] x = TestData.Gaussian(seed, n, 1);
        float[] y = Perturb(x, seed ^ 0x55, 0.1);
        QuantizationError xy = QuantizationError.Compute(x, y);
        QuantizationError yx = QuantizationError.Compute(y, x);

        Assert.Equal(xy.Rmse, yx.Rmse, 12);
        Assert.Equal(xy.MaxAbsoluteError, yx.MaxAbsoluteError);
        Assert.Equal(xy.CosineSimilarity, yx.CosineSimilarity, 12);

        // Scaling both by a power of two is exact in float: SNR and cosine do not change, RMSE and max scale.
        float[] x4 = [.. x.Select(v => v * 4)];
        float[] y4 = [.. y.Select(v => v * 4)];
        QuantizationError scaled = QuantizationError.Compute(x4, y4);
        AssertClose(xy.SnrDecibels, scaled.SnrDecibels, 1e-12);
        AssertClose(xy.CosineSimilarity, scaled.CosineSimilarity, 1e-12);
        AssertClose(4 * xy.Rmse, scaled.Rmse, 1e-12);
        Assert.Equal(4 * xy.MaxAbsoluteError, scaled.MaxAbsoluteError);
    }

    [Fact]
    public void SumsStayAccurateOverMillionsOfValues()
    {
        // 2M values: a float accumulator would be off in the 4th digit here; the double sums agree to ~1e-12.
        const int n = 1 << 21;
        float[] x = TestData.Gaussian(21, n, 1);
        float[] y = Perturb(x, 22, 1e-3);

        QuantizationError e = QuantizationError.Compute(x, y);
        var r = Reference(x, y);

        AssertClose(r.Rmse, e.Rmse, 1e-9);
        AssertClose(r.Snr, e.SnrDecibels, 1e-9);
        Assert.Equal(r.Max, e.MaxAbsoluteError);
    }

    [Fact]
    public void IdenticalInputsHaveNoError()
    {
        float[] x = TestData.Gaussian(31, 1000, 3);

        QuantizationError e = QuantizationError.Compute(x, x);

        Assert.Equal(0, e.Rmse);
        Assert.Equal(0, e.MaxAbsoluteError);
        Assert.Equal(double.PositiveInfinity, e.SnrDecibels);
        Assert.Equal(1, e.CosineSimilarity, 15);
    }

    [Fact]
    public void AllZeroSignalAndReconstructionAreIdentical()
    {
        var zeros = new float[64];
        float[] signedZeros = [.. Enumerable.Range(0, 64).Select(i => i % 2 == 0 ? -0f : 0f)];

        QuantizationError e = QuantizationError.Compute(zeros, signedZeros);

        Assert.Equal(0, e.Rmse);
        Assert.Equal(double.PositiveInfinity, e.SnrDecibels);
        Assert.Equal(1, e.CosineSimilarity);
        Assert.Equal(0, e.SignalRms);
    }

    [Fact]
    public void AllZeroSignalWithNoiseHasNegativeInfiniteSnr()
    {
        var zeros = new float[8];
        float[] noise = [0, 0, 0.5f, 0, 0, 0, -1, 0];

        QuantizationError e = QuantizationError.Compute(zeros, noise);

        Assert.Equal(double.NegativeInfinity, e.SnrDecibels);
        Assert.Equal(0, e.CosineSimilarity);
        Assert.Equal(Math.Sqrt(1.25 / 8), e.Rmse, 15);
        Assert.Equal(1, e.MaxAbsoluteError);
    }

    [Fact]
    public void ZeroReconstructionHasZeroDecibelsAndNoDirection()
    {
        float[] x = [1, -2, 3, -4];

        QuantizationError e = QuantizationError.Compute(x, new float[4]);

        Assert.Equal(0, e.SnrDecibels, 15);
        Assert.Equal(0, e.CosineSimilarity);
        Assert.Equal(4, e.MaxAbsoluteError);
        Assert.Equal(Math.Sqrt(30 / 4.0), e.Rmse, 15);
        Assert.Equal(Math.Sqrt(30 / 4.0), e.SignalRms, 15);
    }

    [Fact]
    public void NegatedReconstructionHasCosineMinusOne()
    {
        float[] x = [0.5f, -1.5f, 2, 8];
        float[] y = [.. x.Select(v => -v)];

        QuantizationError e = QuantizationError.Compute(x, y);

        Assert.Equal(-1, e.CosineSimilarity, 15);
        Assert.Equal(10 * Math.Log10(0.25), e.SnrDecibels, 12);
        Assert.Equal(16, e.MaxAbsoluteError);
    }

    [Fact]
    public void EmptyInputsAndDefaultAreExact()
    {
        foreach (QuantizationError e in new[] { QuantizationError.Compute([], []), default })
        {
            Assert.Equal(0, e.Count);
            Assert.Equal(0, e.Rmse);
            Assert.Equal(0, e.MaxAbsoluteError);
            Assert.Equal(double.PositiveInfinity, e.SnrDecibels);
            Assert.Equal(1, e.CosineSimilarity);
        }
    }

    [Fact]
    public void NaNPropagates()
    {
        float[] x = [1, 2, float.NaN, 4];
        QuantizationError e = QuantizationError.Compute(x, [1, 2, 3, 4]);

        Assert.True(double.IsNaN(e.Rmse));
        Assert.True(double.IsNaN(e.MaxAbsoluteError));
        Assert.True(double.IsNaN(e.SnrDecibels));
        Assert.True(double.IsNaN(e.CosineSimilarity));
    }

    [Fact]
    public void LengthMismatchThrowsWithParameterName()
    {
        var ex = Assert.Throws<ArgumentException>(() => QuantizationError.Compute(new float[4], new float[5]));
        Assert.Equal("reconstructed", ex.ParamName);
    }

    [Fact]
    public void ToStringIsInvariant()
    {
        string text = QuantizationError.Compute([1, 2], [1, 2.5f]).ToString();
        // RMSE √(0.25/2), SNR 10·log10(5/0.25), cosine 6/√(5·7.25).
        Assert.Equal("n=2 RMSE=0.353553 max=0.5 SNR=13.01 dB cos=0.996546", text);
    }

    // ---------------------------------------------------------------- Measure

    public static TheoryData<QuantType> RoundTripTypes()
    {
        var data = new TheoryData<QuantType>();
        foreach (QuantFormat f in QuantFormat.All.Where(f => f.CanQuantize && f.CanDequantize))
        {
            data.Add(f.Type);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RoundTripTypes))]
    public void MeasureEqualsQuantizeDequantizeCompute(QuantType type)
    {
        // 72 rows of 1024 values: more than one internal batch (64 Ki values), with a partial last batch.
        const int rowLength = 1024;
        float[] x = TestData.TransformerLike(41, 72 * rowLength);
        float[] importance = TestData.Importance(42, rowLength, withZeros: true);

        bool required = Quantization.Formats.FormatRegistry.TryGet(type)!.Importance == Quantization.Formats.ImportanceUse.Required;
        foreach (float[] imp in required ? new[] { importance } : new[] { [], importance })
        {
            var bytes = new byte[Quantizer.GetByteCount(type, x.Length)];
            var restored = new float[x.Length];
            Quantizer.Quantize(type, x, bytes, rowLength, imp);
            Quantizer.Dequantize(type, bytes, restored);
            QuantizationError expected = QuantizationError.Compute(x, restored);

            QuantizationError measured = QuantizationError.Measure(type, x, rowLength, imp);

            // Same chunking of the same values, so the same sums to the last bit.
            Assert.Equal(expected.Count, measured.Count);
            Assert.Equal(expected.Rmse, measured.Rmse);
            Assert.Equal(expected.MaxAbsoluteError, measured.MaxAbsoluteError);
            Assert.Equal(expected.SnrDecibels, measured.SnrDecibels);
            Assert.Equal(expected.CosineSimilarity, measured.CosineSimilarity);
        }
    }

    /// <summary>
    /// Round-trip SNR on N(0, 1) data, 256 rows of 256. The values are deterministic (bit-exact kernels on every ISA),
    /// so each window is the measured SNR ± about 1.5 dB: wide enough for any data change, narrow enough that a broken
    /// quantizer (truncation instead of rounding costs ~6 dB, a lost bit ~6 dB, a wrong scale far more) falls out.
    /// </summary>
    [Theory]
    [InlineData(QuantType.F16, 72.0, 75.5)]    // measured 73.7
    [InlineData(QuantType.BF16, 54.0, 57.5)]   // 55.7
    [InlineData(QuantType.Q8_0, 44.0, 47.0)]   // 45.6
    [InlineData(QuantType.Q8_1, 44.0, 47.0)]   // 45.6
    [InlineData(QuantType.Q8_K, 42.0, 45.5)]   // 43.6
    [InlineData(QuantType.Q5_1, 27.0, 30.0)]   // 28.5
    [InlineData(QuantType.Q5_0, 26.0, 29.0)]   // 27.6
    [InlineData(QuantType.Q4_1, 21.0, 23.5)]   // 22.2
    [InlineData(QuantType.Q4_0, 20.0, 23.0)]   // 21.5
    public void RoundTripSnrOnGaussianDataIsInBand(QuantType type, double minDb, double maxDb)
    {
        float[] x = TestData.Gaussian(51, 256 * 256, 1.0);

        QuantizationError e = QuantizationError.Measure(type, x, 256);

        Assert.InRange(e.SnrDecibels, minDb, maxDb);
        Assert.InRange(e.CosineSimilarity, 0.99, 1.0);
        // The largest error is bounded by the coarsest step: 2·amax/levels for a scale-only format on σ=1 data.
        Assert.True(e.MaxAbsoluteError < 0.5, $"{type}: max error {e.MaxAbsoluteError}");
    }

    [Fact]
    public void F32RoundTripIsExact()
    {
        QuantizationError e = QuantizationError.Measure(QuantType.F32, TestData.HeavyTailed(61, 4096), 512);

        Assert.Equal(0, e.Rmse);
        Assert.Equal(double.PositiveInfinity, e.SnrDecibels);
    }

    [Fact]
    public void MeasureOfNoRowsIsEmpty()
    {
        QuantizationError e = QuantizationError.Measure(QuantType.Q4_0, [], 32);

        Assert.Equal(0, e.Count);
        Assert.Equal(double.PositiveInfinity, e.SnrDecibels);
    }

    [Fact]
    public void MeasureValidatesArguments()
    {
        float[] x = TestData.Gaussian(71, 128, 1);

        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => QuantizationError.Measure(QuantType.Q4_0, x, 48)).ParamName);
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => QuantizationError.Measure(QuantType.Q4_0, x, 0)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => QuantizationError.Measure(QuantType.Q4_0, x.AsSpan(0, 96), 64)).ParamName);
        Assert.Equal("importance", Assert.Throws<ArgumentException>(() => QuantizationError.Measure(QuantType.Q4_0, x, 64, new float[32])).ParamName);
        Assert.Equal("importance", Assert.Throws<ArgumentException>(() =>
            QuantizationError.Measure(QuantType.Q4_1, x, 64, [.. Enumerable.Repeat(-1f, 64)])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizationError.Measure((QuantType)4, x, 64));
        Assert.Throws<NotSupportedException>(() => QuantizationError.Measure(QuantType.I32, x, 64));

        x[100] = float.NaN;
        var nan = Assert.Throws<ArgumentException>(() => QuantizationError.Measure(QuantType.Q8_0, x, 64));
        Assert.Equal("source", nan.ParamName);
        Assert.Contains("source[100]", nan.Message, StringComparison.Ordinal);
    }
}
