namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// Sees the input of every weight-matrix product of a forward pass, so a calibration run can collect per-matrix
/// statistics (importance, Hessians, activation ranges) without the encoder knowing what they are for.
/// </summary>
public interface IActivationRecorder
{
    /// <summary>Called before <paramref name="matrixName"/> multiplies <paramref name="inputRows"/>.</summary>
    /// <param name="matrixName">The GGUF name of the weight matrix, such as <c>blk.0.attn_q.weight</c>.</param>
    /// <param name="inputRows">The activation rows, row-major, <paramref name="columns"/> values each; valid only during the call.</param>
    /// <param name="columns">Values per row: the matrix's column count.</param>
    void Record(string matrixName, ReadOnlySpan<float> inputRows, int columns);
}

/// <summary>
/// llama.cpp-style importance: per matrix, the per-column sum of squared activations over every row seen
/// (the library's <see cref="ImportanceAccumulator"/>).
/// </summary>
public sealed class ImportanceRecorder : IActivationRecorder
{
    private readonly Dictionary<string, ImportanceAccumulator> _accumulators = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, ImportanceAccumulator> Accumulators => _accumulators;

    public void Record(string matrixName, ReadOnlySpan<float> inputRows, int columns)
    {
        if (!_accumulators.TryGetValue(matrixName, out ImportanceAccumulator? accumulator))
        {
            accumulator = new ImportanceAccumulator(columns);
            _accumulators.Add(matrixName, accumulator);
        }

        accumulator.Add(inputRows);
    }

    /// <summary>The importance of <paramref name="matrixName"/>, or null if it was never seen.</summary>
    public float[]? GetImportance(string matrixName) =>
        _accumulators.TryGetValue(matrixName, out ImportanceAccumulator? a) ? a.GetImportance() : null;
}
