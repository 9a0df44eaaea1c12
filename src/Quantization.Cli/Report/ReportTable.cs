using System.Globalization;
using Spectre.Console;

namespace Quantization.Cli.Report;

/// <summary>Renders report rows as a console table.</summary>
internal static class ReportTable
{
    /// <summary>
    /// Builds the table: one row per format, numbers right-aligned, invariant culture. "7B GB" is the size of
    /// 7·10⁹ weights in 10⁹ bytes; an exact round trip shows an SNR of "inf"; "MatVec GB/s" is the speed of
    /// <see cref="QuantizedMath.MatVec"/> in weight bytes per second ("—" where the product does not take the format).
    /// </summary>
    /// <remarks>
    /// The quantization schemes' rows (<paramref name="schemeRows"/>) join the formats' in one table, everything ordered by
    /// bits per weight, so per-tensor INT8, per-channel INT8, groups and the block formats read as one story; the outlier
    /// demonstration's rows come last.
    /// </remarks>
    public static Table Build(ReportOptions options, IReadOnlyList<ReportRow> rows, IReadOnlyList<SchemeReportRow>? schemeRows = null)
    {
        var table = new Table()
            .Border(TableBorder.Rounded)
            .Title(Markup.Escape($"Round-trip error on {options.Rows} x {options.Columns} synthetic weights"))
            .Caption(Markup.Escape($"{SyntheticWeights.Description}, seed {options.Seed}"));
        table.AddColumn(new TableColumn("Format"));
        table.AddColumn(new TableColumn("Bits/w").RightAligned());
        table.AddColumn(new TableColumn("7B GB").RightAligned());
        table.AddColumn(new TableColumn("RMSE").RightAligned());
        table.AddColumn(new TableColumn("SNR dB").RightAligned());
        table.AddColumn(new TableColumn("Max err").RightAligned());
        table.AddColumn(new TableColumn("Cosine").RightAligned());
        table.AddColumn(new TableColumn(options.Threads == 1 ? "MatVec GB/s" : $"MatVec GB/s ({(options.Threads < 0 ? "all cores" : $"{options.Threads} threads")})").RightAligned());

        var lines = rows.Select(r => (r.Name, r.BitsPerWeight, r.Model7BGigabytes, r.Error, r.MatVecGigabytesPerSecond, Outlier: false))
            .Concat((schemeRows ?? []).Select(r => (r.Name, r.BitsPerWeight, r.Model7BGigabytes, r.Error, r.MatVecGigabytesPerSecond,
                                                    Outlier: r.Name.EndsWith(SchemeReport.OutlierSuffix, StringComparison.Ordinal))))
            .OrderBy(l => l.Outlier)
            .ThenByDescending(l => l.BitsPerWeight);
        foreach ((string name, double bits, double model7B, QuantizationError e, double speed, bool _) in lines)
        {
            table.AddRow(
                Markup.Escape(name),
                Format(bits, "0.00"),
                Format(model7B, "0.00"),
                Format(e.Rmse, "0.00e+00"),
                double.IsPositiveInfinity(e.SnrDecibels) ? "inf" : Format(e.SnrDecibels, "0.00"),
                Format(e.MaxAbsoluteError, "0.00e+00"),
                Format(e.CosineSimilarity, "0.000000"),
                double.IsNaN(speed) ? "—" : Format(speed, "0.0"));
        }

        return table;
    }

    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
