using Quantization.Cli.Report;
using Quantization.Tests.Support;

namespace Quantization.Tests.Tools;

public sealed class QualityReportTests
{
    // The default report (256 x 4096) takes well under a second; compute it once for the class.
    // The default seed at a quarter of the default size: the same generator, cheap enough for the emulated arm64 run.
    private static readonly Lazy<IReadOnlyList<ReportRow>> s_default =
        new(() => QualityReport.Compute(new ReportOptions(QualityReport.DefaultRows / 4, QualityReport.DefaultColumns, QualityReport.DefaultSeed)));

    private static readonly QuantType[] s_activationOnly = [QuantType.Q8_1, QuantType.Q8_K, QuantType.I8_S];

    private static double Snr(IReadOnlyList<ReportRow> rows, QuantType type) => rows.Single(r => r.Type == type).Error.SnrDecibels;

    [Fact]
    public void EveryImplementedWeightFormatHasOneRow()
    {
        QuantType[] expected = [.. QuantFormat.All
            .Where(f => f.CanQuantize && f.CanDequantize && !s_activationOnly.Contains(f.Type))
            .Select(f => f.Type)
            .Order()];

        QuantType[] actual = [.. s_default.Value.Select(r => r.Type).Order()];

        Assert.Equal(expected, actual);
        Assert.Subset(actual.ToHashSet(), new HashSet<QuantType> { QuantType.F32, QuantType.F16, QuantType.BF16, QuantType.Q8_0, QuantType.Q4_0 });
        Assert.DoesNotContain(QuantType.Q8_1, actual);
        Assert.DoesNotContain(QuantType.Q8_K, actual);
    }

    [Fact]
    public void SizesMatchTheFormatDescriptors()
    {
        foreach (ReportRow row in s_default.Value)
        {
            QuantFormat format = QuantFormat.Get(row.Type);
            Assert.Equal(format.Name, row.Name);
            Assert.Equal(format.BitsPerWeight, row.BitsPerWeight);
            Assert.Equal(7 * format.BitsPerWeight / 8, row.Model7BGigabytes, 12);
            Assert.Equal(ReportOptions.Default.Rows / 4 * (long)ReportOptions.Default.Columns, row.Error.Count);
        }

        Assert.Equal(3.9375, s_default.Value.Single(r => r.Type == QuantType.Q4_0).Model7BGigabytes, 12);
        Assert.Equal(14, s_default.Value.Single(r => r.Type == QuantType.F16).Model7BGigabytes, 12);
    }

    [Fact]
    public void RowsRunFromMostToFewestBits()
    {
        double[] bits = [.. s_default.Value.Select(r => r.BitsPerWeight)];
        Assert.Equal(bits.OrderDescending(), bits);
        Assert.Equal(QuantType.F32, s_default.Value[0].Type);
    }

    [Fact]
    public void BaselinesAreExactOrNearlySo()
    {
        IReadOnlyList<ReportRow> rows = s_default.Value;
        ReportRow f32 = rows.Single(r => r.Type == QuantType.F32);
        Assert.Equal(0, f32.Error.Rmse);
        Assert.Equal(double.PositiveInfinity, f32.Error.SnrDecibels);

        // F16 keeps 11 significant bits, BF16 8: ~74 and ~56 dB on any smooth distribution.
        Assert.InRange(Snr(rows, QuantType.F16), 70, 78);
        Assert.InRange(Snr(rows, QuantType.BF16), 52, 60);
    }

    [Theory]
    [InlineData(42UL, 64, 4096)]
    [InlineData(1UL, 64, 1024)]
    [InlineData(7UL, 32, 2048)]
    [InlineData(123456789UL, 128, 256)]
    public void MoreBitsGiveHigherSnr(ulong seed, int rows, int columns)
    {
        IReadOnlyList<ReportRow> report = seed == QualityReport.DefaultSeed && rows == QualityReport.DefaultRows / 4 && columns == QualityReport.DefaultColumns
            ? s_default.Value
            : QualityReport.Compute(new ReportOptions(rows, columns, seed));

        // Robust claims only: a format with at least one more bit per weight has a higher SNR (≈ 6 dB per bit,
        // so the margin is wide), F16 beats BF16, and even the coarsest format keeps the direction of the weights.
        foreach (ReportRow a in report)
        {
            // Except FP4: bitsandbytes' E2M1 code book spends levels on ±1/192 and has none between 2/3 and 1, so at
            // 4.5 bpw it lands near the 3.4-bpw K-quants, SNR and cosine alike (NF4 is bitsandbytes' format for weights).
            foreach (ReportRow b in report.Where(b => a.BitsPerWeight >= b.BitsPerWeight + 1 && a.Type != QuantType.FP4))
            {
                Assert.True(a.Error.SnrDecibels > b.Error.SnrDecibels,
                    $"{a.Name} ({a.BitsPerWeight} bpw, {a.Error.SnrDecibels:F2} dB) should beat {b.Name} ({b.BitsPerWeight} bpw, {b.Error.SnrDecibels:F2} dB)");
            }

            // ggml's 2- and 3-bit K-quants without an imatrix stay near 0.96 and 0.989 on this data (bit-exact with ggml).
            // The ternary formats (TQ1_0, TQ2_0, I2_S) are meant for weights trained to be ternary; on these weights
            // they keep about 0.69 (I2_S, signs only) to 0.74 (TQ1_0, TQ2_0). So are Q1_0 (signs and the mean magnitude,
            // about 0.70) and Q2_0 (−1, 0, +1 times the block maximum, about 0.82). IQ3_XXS and IQ3_S without an imatrix
            // keep about 0.97 and 0.978 (bit-exact with ggml). The lattice formats IQ1 and IQ2 (uniform importance where
            // they need one) keep about 0.86 (IQ1_S) to 0.88 (IQ1_M, IQ2_XXS).
            double minCosine = a.Type is QuantType.TQ1_0 or QuantType.TQ2_0 or QuantType.I2_S or QuantType.Q1_0 or QuantType.Q2_0 ? 0.65
                : a.Type is QuantType.IQ3_XXS or QuantType.IQ3_S ? 0.96
                : a.Type is QuantType.IQ1_S or QuantType.IQ1_M ? 0.84
                : a.Type is QuantType.IQ2_XXS or QuantType.IQ2_XS or QuantType.IQ2_S ? 0.85
                : a.BitsPerWeight >= 4 && a.Type != QuantType.FP4 ? 0.99 : a.BitsPerWeight >= 3 ? 0.98 : 0.95;
            Assert.True(a.Error.CosineSimilarity > minCosine, $"{a.Name}: cosine {a.Error.CosineSimilarity}");
        }

        Assert.True(Snr(report, QuantType.F16) > Snr(report, QuantType.BF16));
        Assert.True(Snr(report, QuantType.Q8_0) > 38);
        Assert.True(Snr(report, QuantType.Q5_1) > Snr(report, QuantType.Q4_0));
        Assert.True(Snr(report, QuantType.Q4_0) > 16);
    }

    [Fact]
    public void ReportIsDeterministic()
    {
        var options = new ReportOptions(16, 512, 99);
        IReadOnlyList<ReportRow> first = QualityReport.Compute(options);
        IReadOnlyList<ReportRow> second = QualityReport.Compute(options);
        IReadOnlyList<ReportRow> other = QualityReport.Compute(options with { Seed = 100 });

        Assert.Equal(first.Select(r => r.Error.Rmse), second.Select(r => r.Error.Rmse));
        Assert.NotEqual(first.Single(r => r.Type == QuantType.Q4_0).Error.Rmse, other.Single(r => r.Type == QuantType.Q4_0).Error.Rmse);
    }

    [Theory]
    [InlineData(42UL)]
    [InlineData(0UL)]
    [InlineData(ulong.MaxValue)]
    public void SyntheticWeightsEqualTheTestGenerator(ulong seed)
    {
        float[] ours = SyntheticWeights.TransformerLike(seed, 10_000);
        float[] tests = TestData.TransformerLike(seed, 10_000);

        Assert.Equal(tests, ours);
        double sigma = Math.Sqrt(ours.Average(v => (double)v * v));
        Assert.InRange(sigma, 0.019, 0.03); // 0.02 plus the outliers' share
    }

    [Theory]
    [InlineData(0, 4096, "--rows")]
    [InlineData(-1, 4096, "--rows")]
    [InlineData(16, 0, "--columns")]
    [InlineData(16, 100, "--columns")]
    [InlineData(16, 4000, "--columns")]
    [InlineData(65536, 65536, "at most")]
    public void InvalidOptionsAreRejected(int rows, int columns, string messagePart)
    {
        var options = new ReportOptions(rows, columns, 1);

        Assert.Contains(messagePart, QualityReport.Validate(options), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => QualityReport.Compute(options));
    }

    [Fact]
    public void DefaultOptionsAreValid() => Assert.Null(QualityReport.Validate(ReportOptions.Default));
}
