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
    public static Table Build(ReportOptions options, IReadOnlyList<ReportRow> rows)
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

        foreach (ReportRow row in rows)
        {
            QuantizationError e = row.Error;
            table.AddRow(
                Markup.Escape(row.Name),
                Format(row.BitsPerWeight, "0.00"),
                Format(row.Model7BGigabytes, "0.00"),
                Format(e.Rmse, "0.00e+00"),
                double.IsPositiveInfinity(e.SnrDecibels) ? "inf" : Format(e.SnrDecibels, "0.00"),
                Format(e.MaxAbsoluteError, "0.00e+00"),
                Format(e.CosineSimilarity, "0.000000"),
                double.IsNaN(row.MatVecGigabytesPerSecond) ? "—" : Format(row.MatVecGigabytesPerSecond, "0.0"));
        }

        return table;
    }

    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
