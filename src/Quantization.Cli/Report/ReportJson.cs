using System.Text.Json.Serialization;

namespace Quantization.Cli.Report;

/// <summary>The JSON document <c>quant report --format json</c> writes.</summary>
/// <param name="Matrix">The synthetic matrix measured.</param>
/// <param name="Formats">One entry per weight format, most bits per weight first.</param>
/// <param name="Schemes">One entry per quantization scheme row (<see cref="SchemeReport"/>); empty when not computed.</param>
/// <param name="Notes">What a null measurement means.</param>
internal sealed record ReportDocument(MatrixDescription Matrix, IReadOnlyList<FormatEntry> Formats, IReadOnlyList<FormatEntry> Schemes, string Notes)
{
    /// <summary>The document's <see cref="Notes"/>: JSON has no infinity or NaN, so those measurements are null.</summary>
    public const string NullNotes =
        "snrDecibels is null for an exact round trip (infinite SNR); matVecGigabytesPerSecond is null where no product was timed.";

    /// <summary>A finite value as is, null otherwise (strict JSON has no infinity or NaN).</summary>
    public static double? Finite(double value) => double.IsFinite(value) ? value : null;

    /// <summary>Converts computed rows into the document.</summary>
    public static ReportDocument Create(ReportOptions options, IReadOnlyList<ReportRow> rows, IReadOnlyList<SchemeReportRow>? schemeRows = null) => new(
        new MatrixDescription(options.Rows, options.Columns, options.Seed, SyntheticWeights.Description),
        [.. rows.Select(r => new FormatEntry(
            r.Name, r.Type.ToString(), r.BitsPerWeight, r.Model7BGigabytes,
            r.Error.Rmse, Finite(r.Error.SnrDecibels), r.Error.MaxAbsoluteError, r.Error.CosineSimilarity, Finite(r.MatVecGigabytesPerSecond)))],
        [.. (schemeRows ?? []).Select(r => new FormatEntry(
            r.Name, "scheme", r.BitsPerWeight, r.Model7BGigabytes,
            r.Error.Rmse, Finite(r.Error.SnrDecibels), r.Error.MaxAbsoluteError, r.Error.CosineSimilarity, Finite(r.MatVecGigabytesPerSecond)))],
        NullNotes);
}

/// <summary>The measured matrix.</summary>
/// <param name="Rows">Rows.</param>
/// <param name="Columns">Values per row.</param>
/// <param name="Seed">Seed of the pseudo-random stream.</param>
/// <param name="Distribution">What the values are drawn from.</param>
internal sealed record MatrixDescription(int Rows, int Columns, ulong Seed, string Distribution);

/// <summary>One format's measurements.</summary>
/// <param name="Format">ggml's name (e.g. <c>q4_0</c>).</param>
/// <param name="Type">The <see cref="QuantType"/> member name (e.g. <c>Q4_0</c>).</param>
/// <param name="BitsPerWeight">Bits per weight, scales included.</param>
/// <param name="Model7BGigabytes">Size of 7·10⁹ weights, in GB (10⁹ bytes).</param>
/// <param name="Rmse">Root-mean-square round-trip error.</param>
/// <param name="SnrDecibels">Signal-to-noise ratio in dB; null for an exact round trip.</param>
/// <param name="MaxAbsoluteError">Largest absolute round-trip error.</param>
/// <param name="CosineSimilarity">Cosine similarity of the round trip with the original.</param>
/// <param name="MatVecGigabytesPerSecond">Weight GB/s of QuantizedMath.MatVec over the matrix; null where it does not apply.</param>
internal sealed record FormatEntry(
    string Format, string Type, double BitsPerWeight, double Model7BGigabytes,
    double Rmse, double? SnrDecibels, double MaxAbsoluteError, double CosineSimilarity, double? MatVecGigabytesPerSecond);

/// <summary>Source-generated (reflection-free, trim- and AOT-safe) serializer for the report.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReportDocument))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
