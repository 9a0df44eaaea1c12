namespace Quantization.Samples.Embeddings.Model;

/// <summary>A weight matrix to quantize: its GGUF name, shape and the format it gets (after any fallback).</summary>
public sealed record MatrixInfo(string Name, int Rows, int Columns, QuantType Type);

/// <summary>
/// Turns one float matrix (row-major, <see cref="MatrixInfo.Rows"/> × <see cref="MatrixInfo.Columns"/>) into the bytes of
/// <see cref="MatrixInfo.Type"/>. <paramref name="calibration"/> is null for methods that need no data.
/// </summary>
public delegate byte[] MatrixQuantizer(MatrixInfo matrix, float[] weights, ImportanceRecorder? calibration);

/// <summary>Which format each matrix gets for a requested type, and the two plain ways to quantize.</summary>
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
    public static byte[] Plain(MatrixInfo matrix, float[] weights, ImportanceRecorder? calibration) =>
        Quantize(matrix, weights, importance: default);

    /// <summary>The library's quantizer with llama.cpp-style importance (per-column mean x²) from the calibration run.</summary>
    public static byte[] WithImportance(MatrixInfo matrix, float[] weights, ImportanceRecorder? calibration)
    {
        float[] importance = calibration?.GetImportance(matrix.Name)
            ?? throw new ArgumentException($"No calibration statistics for '{matrix.Name}'.", nameof(calibration));
        return Quantize(matrix, weights, importance);
    }

    private static byte[] Quantize(MatrixInfo matrix, float[] weights, ReadOnlySpan<float> importance)
    {
        var bytes = new byte[Quantizer.GetByteCount(matrix.Type, weights.Length)];
        Quantizer.Quantize(matrix.Type, weights, bytes, matrix.Columns, importance);
        return bytes;
    }
}
