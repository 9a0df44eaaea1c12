using Quantization.Cli.Report;
using Quantization.Schemes;

namespace Quantization.Tests.Schemes;

/// <summary>The scheme rows of <c>quant report</c>: every scheme present, sizes from the layout, and the errors in the order the schemes promise.</summary>
public sealed class SchemeReportTests
{
    private static readonly ReportOptions s_options = new(64, 1024, QualityReport.DefaultSeed);
    private static readonly Lazy<IReadOnlyList<SchemeReportRow>> s_rows = new(() => SchemeReport.Compute(s_options));

    private static SchemeReportRow Row(string name) => s_rows.Value.Single(r => r.Name == name);

    [Fact]
    public void EveryReportedSchemeHasARowAndItsStorageCost()
    {
        Assert.Equal(SchemeReport.Schemes.Count + SchemeReport.OutlierSchemes.Count, s_rows.Value.Count);
        foreach (QuantScheme scheme in SchemeReport.Schemes)
        {
            double bits = SchemeQuantizer.GetByteCount(scheme, s_options.Rows, s_options.Columns) * 8.0 / (s_options.Rows * s_options.Columns);
            Assert.Equal(bits, Row(scheme.ToString()).BitsPerWeight, 12);
        }

        Assert.Equal(8 + 32.0 / 1024, Row("int8-row").BitsPerWeight, 12);
        Assert.Equal(4 + 32.0 / 32, Row("int4-g32").BitsPerWeight, 12);
        Assert.Equal(4 + 40.0 / 128, Row("int4-g128-asym").BitsPerWeight, 12);
    }

    [Fact]
    public void ErrorsFollowTheSchemesOrder()
    {
        double Snr(string name) => Row(name).Error.SnrDecibels;
        Assert.True(Snr("int8-row") > Snr("int8-tensor"));
        Assert.True(Snr("int4-g32") > Snr("int4-g128"));
        Assert.True(Snr("int4-g128-asym") > Snr("int4-g128"));
        Assert.True(Snr("int3-g32") > Snr("int2-g32"));
        Assert.True(Snr("fp8-e4m3-b128") > Snr("fp8-e5m2-b128"));
        Assert.True(Snr("int8-g128") > Snr("int4-g32"));
    }

    [Fact]
    public void AnOutlierChannelRuinsOnlyThePerTensorScale()
    {
        double Snr(string name) => Row(name).Error.SnrDecibels;
        double tensor = Snr("int8-tensor" + SchemeReport.OutlierSuffix);
        double channel = Snr("int8-row" + SchemeReport.OutlierSuffix);
        double group = Snr("int8-g128" + SchemeReport.OutlierSuffix);
        Assert.True(channel > tensor + 10, $"per channel {channel} dB, per tensor {tensor} dB");
        Assert.True(group >= channel - 0.5, $"groups {group} dB, per channel {channel} dB");
        // The outlier, not the matrix, costs the per-tensor scale: every row's error grows with it.
        double withOutlier = Row("int8-tensor" + SchemeReport.OutlierSuffix).Error.Rmse, without = Row("int8-tensor").Error.Rmse;
        Assert.True(withOutlier > 2 * without, $"per-tensor RMSE {withOutlier} with the outlier, {without} without");
    }
}
