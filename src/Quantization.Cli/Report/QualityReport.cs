using System.Diagnostics;

namespace Quantization.Cli.Report;

/// <summary>What the report measures: the shape and seed of the synthetic matrix.</summary>
/// <param name="Rows">Rows of the matrix.</param>
/// <param name="Columns">Values per row; a multiple of <see cref="QualityReport.ColumnMultiple"/>.</param>
/// <param name="Seed">Seed of the pseudo-random stream.</param>
/// <param name="Threads">Threads of the timed matrix-vector product (maxDegreeOfParallelism; -1 for all cores).</param>
internal sealed record ReportOptions(int Rows, int Columns, ulong Seed, int Threads = 1)
{
    /// <summary>256 × 4096: a quarter of a 4096-wide projection, about a second for every format.</summary>
    public static ReportOptions Default { get; } = new(QualityReport.DefaultRows, QualityReport.DefaultColumns, QualityReport.DefaultSeed);
}

/// <summary>One format's line of the report.</summary>
/// <param name="Type">The format.</param>
/// <param name="Name">ggml's name of the format.</param>
/// <param name="BitsPerWeight">Storage cost in bits per weight, scales included.</param>
/// <param name="Model7BGigabytes">Size of 7·10⁹ weights in the format, in GB (10⁹ bytes).</param>
/// <param name="Error">Round-trip error on the synthetic matrix.</param>
/// <param name="MatVecGigabytesPerSecond">
/// Weight bytes per second of <see cref="QuantizedMath.MatVec"/> over the quantized matrix (cache-resident at the
/// default size), in GB/s; NaN for a format the product does not take.
/// </param>
internal sealed record ReportRow(QuantType Type, string Name, double BitsPerWeight, double Model7BGigabytes, QuantizationError Error,
                                 double MatVecGigabytesPerSecond = double.NaN);

/// <summary>
/// The computation behind <c>quant report</c>: quantizes a deterministic synthetic weight matrix into every weight
/// format this version implements and measures each round trip.
/// </summary>
internal static class QualityReport
{
    /// <summary>Default number of rows.</summary>
    public const int DefaultRows = 256;

    /// <summary>Default number of columns.</summary>
    public const int DefaultColumns = 4096;

    /// <summary>Default seed.</summary>
    public const ulong DefaultSeed = 42;

    /// <summary>Columns must be a multiple of this: the largest block size (K-quant super-blocks of 256).</summary>
    public const int ColumnMultiple = 256;

    /// <summary>Largest matrix the report accepts (2^28 values, 1 GiB of floats).</summary>
    public const long MaxValues = 1L << 28;

    /// <summary>Parameter count of the "7B" model whose size the report shows.</summary>
    public const double ModelParameters = 7e9;

    /// <summary>
    /// Every format the report covers: those this version can quantize and dequantize, minus the activation-only ones
    /// (Q8_1, Q8_K, I8_S: formats that only hold activations for integer dot products, never stored weights),
    /// from the most bits per weight to the fewest (F32, F16 and BF16 first, as baselines).
    /// </summary>
    public static IReadOnlyList<QuantFormat> WeightFormats() =>
        [.. QuantFormat.All
            .Where(f => f.CanQuantize && f.CanDequantize && Formats.FormatRegistry.TryGet(f.Type)?.Role == Formats.FormatRole.Weight)
            .OrderByDescending(f => f.BitsPerWeight)
            .ThenBy(f => (int)f.Type)];

    /// <summary>Size in GB (10⁹ bytes) of <see cref="ModelParameters"/> weights at <paramref name="bitsPerWeight"/>.</summary>
    public static double Model7BGigabytes(double bitsPerWeight) => ModelParameters * bitsPerWeight / 8 / 1e9;

    /// <summary>Why <paramref name="options"/> cannot be reported, or <see langword="null"/> when they can.</summary>
    public static string? Validate(ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Rows <= 0)
        {
            return $"--rows must be positive (got {options.Rows}).";
        }

        if (options.Columns <= 0 || options.Columns % ColumnMultiple != 0)
        {
            return $"--columns must be a positive multiple of {ColumnMultiple} (got {options.Columns}).";
        }

        if (options.Threads is 0 or < -1)
        {
            return $"--threads must be positive or -1 for every core (got {options.Threads}).";
        }

        if ((long)options.Rows * options.Columns > MaxValues)
        {
            return $"--rows x --columns must be at most {MaxValues} values (got {(long)options.Rows * options.Columns}).";
        }

        return null;
    }

    /// <summary>Builds the matrix <paramref name="options"/> describe and measures every weight format on it.</summary>
    /// <exception cref="ArgumentException"><see cref="Validate"/> rejects <paramref name="options"/>.</exception>
    public static IReadOnlyList<ReportRow> Compute(ReportOptions options)
    {
        if (Validate(options) is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        float[] weights = SyntheticWeights.TransformerLike(options.Seed, options.Rows * options.Columns);
        var rows = new List<ReportRow>();
        foreach (QuantFormat format in WeightFormats())
        {
            QuantizationError error = format.Type == QuantType.I2_S
                ? MeasureAbsMeanI2S(weights)
                : QuantizationError.Measure(format.Type, weights, options.Columns, UniformImportanceIfRequired(format.Type, options.Columns));
            double speed = MeasureMatVec(format.Type, weights, options);
            rows.Add(new ReportRow(format.Type, format.Name, format.BitsPerWeight, Model7BGigabytes(format.BitsPerWeight), error, speed));
        }

        return rows;
    }

    /// <summary>
    /// Equal importance for every column when the format cannot quantize without importance (IQ2_XXS, IQ2_XS, IQ1_S):
    /// the report has no imatrix, and equal weights favour no column. Empty for every other format.
    /// </summary>
    private static float[] UniformImportanceIfRequired(QuantType type, int columns)
    {
        if (Quantization.Formats.FormatRegistry.TryGet(type)?.Importance != Quantization.Formats.ImportanceUse.Required)
        {
            return [];
        }

        var importance = new float[columns];
        Array.Fill(importance, 1f);
        return importance;
    }

    /// <summary>
    /// Times <see cref="QuantizedMath.MatVec"/> over the quantized matrix: the best of a few ~2 ms batches after a
    /// warm-up call, as weight bytes per second in GB/s; NaN when the product does not take the format.
    /// </summary>
    private static double MeasureMatVec(QuantType type, float[] weights, ReportOptions options)
    {
        var packed = new byte[Quantizer.GetByteCount(type, weights.Length)];
        Quantizer.Quantize(type, weights, packed, options.Columns, UniformImportanceIfRequired(type, options.Columns));
        var x = new float[options.Columns];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = weights[i] * 50; // activations of unit scale
        }

        var y = new float[options.Rows];
        QuantizedMath.MatVec(type, packed, options.Rows, options.Columns, x, y, options.Threads);
        double best = double.MaxValue;
        for (int batch = 0; batch < 5; batch++)
        {
            long start = Stopwatch.GetTimestamp();
            int calls = 0;
            do
            {
                QuantizedMath.MatVec(type, packed, options.Rows, options.Columns, x, y, options.Threads);
                calls++;
            }
            while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < 2);

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / calls);
        }

        return packed.Length / best / 1e9;
    }

    /// <summary>
    /// I2_S's quantizer (bitnet.cpp's quantize_i2_s) expects weights that are already ternary; float weights reach I2_S
    /// through BitNet's absmean rule, so that is the pipeline measured.
    /// </summary>
    private static QuantizationError MeasureAbsMeanI2S(float[] weights)
    {
        var packed = new byte[Quantizer.GetByteCount(QuantType.I2_S, weights.Length)];
        Quantization.Ternary.BitNetQuantizer.QuantizeAbsMeanToI2S(weights, packed);
        var restored = new float[weights.Length];
        Quantizer.Dequantize(QuantType.I2_S, packed, restored);
        return QuantizationError.Compute(weights, restored);
    }
}
