using System.Diagnostics;
using Quantization.Schemes;

namespace Quantization.Cli.Report;

/// <summary>One scheme's line of the report.</summary>
/// <param name="Name">The scheme's name (<see cref="QuantScheme.ToString"/>), with the matrix it was measured on when not the default one.</param>
/// <param name="BitsPerWeight">Storage cost in bits per weight, scales and zero points included.</param>
/// <param name="Model7BGigabytes">Size of 7·10⁹ weights at that cost, in GB.</param>
/// <param name="Error">Round-trip error.</param>
/// <param name="MatVecGigabytesPerSecond">Weight bytes per second of <see cref="SchemeMath.MatVec"/>, in GB/s.</param>
internal sealed record SchemeReportRow(string Name, double BitsPerWeight, double Model7BGigabytes, QuantizationError Error, double MatVecGigabytesPerSecond);

/// <summary>
/// The quantization schemes' rows of <c>quant report</c>: INT8 per tensor and per channel, symmetric groups of 4, 3 and 2
/// bits at 32 and 128 (and 4-bit with zero points), FP8 E4M3 / E5M2 per tensor and with 128 × 128 block scales, on the
/// report's matrix; then INT8 per tensor, per channel and in groups on the same matrix with one output channel in 1024
/// (at least one) fifty times larger, the outlier a per-tensor scale cannot absorb.
/// </summary>
internal static class SchemeReport
{
    /// <summary>The schemes of the report, in table order.</summary>
    public static IReadOnlyList<QuantScheme> Schemes { get; } =
    [
        QuantScheme.Int8PerTensor,
        QuantScheme.Int8PerChannel,
        QuantScheme.Group(8, 128),
        QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Tensor),
        QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128),
        QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Tensor),
        QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Block2D, 128),
        QuantScheme.Group(4, 32),
        QuantScheme.Group(4, 128),
        QuantScheme.Group(4, 128, symmetric: false),
        QuantScheme.Group(3, 32),
        QuantScheme.Group(3, 128),
        QuantScheme.Group(2, 32),
        QuantScheme.Group(2, 128),
    ];

    /// <summary>The schemes of the outlier demonstration.</summary>
    public static IReadOnlyList<QuantScheme> OutlierSchemes { get; } = [QuantScheme.Int8PerTensor, QuantScheme.Int8PerChannel, QuantScheme.Group(8, 128)];

    /// <summary>Suffix of the outlier demonstration's row names.</summary>
    public const string OutlierSuffix = " (outlier channel)";

    /// <summary>Every scheme row for <paramref name="options"/> (already validated by <see cref="QualityReport.Validate"/>).</summary>
    public static IReadOnlyList<SchemeReportRow> Compute(ReportOptions options)
    {
        float[] weights = SyntheticWeights.TransformerLike(options.Seed, options.Rows * options.Columns);
        var rows = new List<SchemeReportRow>();
        foreach (QuantScheme scheme in Schemes)
        {
            rows.Add(Measure(scheme, scheme.ToString(), weights, options));
        }

        float[] outliers = (float[])weights.Clone();
        for (int r = 0; r < options.Rows; r += 1024)
        {
            for (int c = 0; c < options.Columns; c++)
            {
                outliers[r * options.Columns + c] *= 50;
            }
        }

        foreach (QuantScheme scheme in OutlierSchemes)
        {
            rows.Add(Measure(scheme, scheme + OutlierSuffix, outliers, options));
        }

        return rows;
    }

    private static SchemeReportRow Measure(QuantScheme scheme, string name, float[] weights, ReportOptions options)
    {
        var packed = new byte[SchemeQuantizer.GetByteCount(scheme, options.Rows, options.Columns)];
        SchemeQuantizer.Quantize(scheme, weights, options.Rows, options.Columns, packed);
        var restored = new float[weights.Length];
        SchemeQuantizer.Dequantize(scheme, packed, options.Rows, options.Columns, restored);
        double bits = packed.Length * 8.0 / weights.Length;
        return new SchemeReportRow(name, bits, QualityReport.Model7BGigabytes(bits), QuantizationError.Compute(weights, restored),
                                   MeasureMatVec(scheme, packed, weights, options));
    }

    /// <summary>The best of a few ~2 ms batches of <see cref="SchemeMath.MatVec"/>, as weight GB/s (as the format rows are timed).</summary>
    private static double MeasureMatVec(QuantScheme scheme, byte[] packed, float[] weights, ReportOptions options)
    {
        var matrix = new SchemeMatrix(scheme, packed, options.Rows, options.Columns);
        var x = new float[options.Columns];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = weights[i] * 50; // activations of unit scale
        }

        var y = new float[options.Rows];
        matrix.MatVec(x, y, options.Threads);
        double best = double.MaxValue;
        for (int batch = 0; batch < 5; batch++)
        {
            long start = Stopwatch.GetTimestamp();
            int calls = 0;
            do
            {
                matrix.MatVec(x, y, options.Threads);
                calls++;
            }
            while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < 2);

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / calls);
        }

        return packed.Length / best / 1e9;
    }
}
