using Quantization.Calibration;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>A weight matrix to quantize: its GGUF name, shape and the format it gets (after any fallback).</summary>
public sealed record MatrixInfo(string Name, int Rows, int Columns, QuantType Type);

/// <summary>
/// A quantized matrix: the bytes of its format and, for AWQ, the per-input scales s its weights were multiplied by
/// (the inputs are then divided by s before the product; null when the weights are the model's own).
/// </summary>
public sealed record QuantizedWeights(byte[] Bytes, float[]? InputScales = null);

/// <summary>
/// Turns one float matrix (row-major, <see cref="MatrixInfo.Rows"/> × <see cref="MatrixInfo.Columns"/>) into the bytes of
/// <see cref="MatrixInfo.Type"/>. <paramref name="calibration"/> is null for methods that need no data.
/// </summary>
public delegate QuantizedWeights MatrixQuantizer(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration);

/// <summary>
/// Which format each matrix gets for a requested type, and the ways to quantize it: the library's llama.cpp-exact
/// quantizer without and with importance, GPTQ, AWQ, and AWQ followed by GPTQ (<c>Quantization.Calibration</c>).
/// </summary>
public static class MatrixQuantization
{
    /// <summary>
    /// The format used for a matrix whose rows do not split into <paramref name="requested"/>'s blocks. BERT-small rows
    /// of 384 values are not a multiple of 256, so the 256-value formats fall back to a 32-value format of about the same
    /// size or a little larger, as llama.cpp's quantizer does: Q6_K → Q8_0, Q5_K → Q5_1, Q4_K → Q5_0, Q3_K and Q2_K →
    /// IQ4_NL, IQ4_XS → IQ4_NL, any other 256-value format → Q8_0. Rows of 1536 (the FFN down projection) keep the type.
    /// </summary>
    public static QuantType Resolve(QuantType requested, int columns)
    {
        if (columns % QuantFormat.Get(requested).BlockSize == 0)
        {
            return requested;
        }

        return requested switch
        {
            QuantType.Q6_K => QuantType.Q8_0,
            QuantType.Q5_K => QuantType.Q5_1,
            QuantType.Q4_K => QuantType.Q5_0,
            QuantType.Q3_K or QuantType.Q2_K => QuantType.IQ4_NL,
            QuantType.IQ4_XS => QuantType.IQ4_NL,
            _ => QuantType.Q8_0,
        };
    }

    /// <summary>The library's quantizer without importance.</summary>
    public static QuantizedWeights Plain(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration) =>
        new(Quantize(matrix, weights, importance: default));

    /// <summary>The library's quantizer with llama.cpp-style importance (per-column mean x²) from the calibration run.</summary>
    public static QuantizedWeights WithImportance(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration)
    {
        float[] importance = Required(calibration).Importance.GetImportance(matrix.Name)
            ?? throw new ArgumentException($"No calibration statistics for '{matrix.Name}'.", nameof(calibration));
        return new(Quantize(matrix, weights, importance));
    }

    /// <summary>GPTQ with the inputs' XᵀX: every rounding error pushed onto the columns not yet quantized.</summary>
    public static QuantizedWeights WithGptq(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration) =>
        new(GptqBytes(matrix, weights, Required(calibration).Statistics(matrix.Name)));

    /// <summary>
    /// AWQ: per-input scales searched on the calibration rows, then the clipping search, then the importance quantizer
    /// on W·diag(s) (its inputs are x / s, so their importance is the original's divided by s²).
    /// </summary>
    public static QuantizedWeights WithAwq(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration)
    {
        (float[] scaled, float[] scales, ActivationStatistics statistics) = AwqScaledAndClipped(matrix, weights, Required(calibration));
        return new(Quantize(matrix, scaled, statistics.GetImportance()), scales);
    }

    /// <summary>AWQ's scales and clipping, then GPTQ on W·diag(s) with the statistics of x / s.</summary>
    public static QuantizedWeights WithAwqAndGptq(MatrixInfo matrix, float[] weights, CalibrationRecorder? calibration)
    {
        (float[] scaled, float[] scales, ActivationStatistics statistics) = AwqScaledAndClipped(matrix, weights, Required(calibration));
        return new(GptqBytes(matrix, scaled, statistics), scales);
    }

    private static (float[] Scaled, float[] Scales, ActivationStatistics Statistics) AwqScaledAndClipped(MatrixInfo matrix, float[] weights, CalibrationRecorder calibration)
    {
        float[] samples = calibration.Samples(matrix.Name);
        var scales = new float[matrix.Columns];
        Awq.SearchScales(matrix.Type, weights, matrix.Rows, matrix.Columns, samples, scales);
        var scaled = new float[weights.Length];
        Awq.ApplyScales(weights, matrix.Rows, matrix.Columns, scales, scaled);
        float[] inverse = [.. scales.Select(s => 1 / s)];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] *= inverse[i % matrix.Columns];
        }

        Awq.SearchClip(matrix.Type, scaled, matrix.Rows, matrix.Columns, samples);
        return (scaled, scales, calibration.Statistics(matrix.Name).Scaled(inverse));
    }

    private static byte[] GptqBytes(MatrixInfo matrix, float[] weights, ActivationStatistics statistics)
    {
        var bytes = new byte[Quantizer.GetByteCount(matrix.Type, weights.Length)];
        Gptq.Quantize(matrix.Type, weights, bytes, matrix.Rows, matrix.Columns, statistics);
        return bytes;
    }

    private static CalibrationRecorder Required(CalibrationRecorder? calibration) =>
        calibration ?? throw new ArgumentNullException(nameof(calibration), "This method quantizes from calibration statistics.");

    private static byte[] Quantize(MatrixInfo matrix, float[] weights, ReadOnlySpan<float> importance)
    {
        var bytes = new byte[Quantizer.GetByteCount(matrix.Type, weights.Length)];
        Quantizer.Quantize(matrix.Type, weights, bytes, matrix.Columns, importance);
        return bytes;
    }
}
