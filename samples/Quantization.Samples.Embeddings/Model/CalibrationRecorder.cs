using Quantization.Calibration;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// Everything the calibrated quantizers read, collected in one calibration pass per matrix: llama.cpp-style importance
/// (<see cref="ImportanceRecorder"/>), the inputs' second moments XᵀX for GPTQ (<see cref="ActivationStatistics"/>), and a
/// sample of whole input rows for AWQ's searches, which measure output error on real activations.
/// </summary>
public sealed class CalibrationRecorder : IActivationRecorder
{
    /// <summary>Input rows kept per matrix for AWQ: every row until this many, then a fixed-seed reservoir sample.</summary>
    public const int SampleRows = 512;

    private readonly Dictionary<string, Matrix> _matrices = new(StringComparer.Ordinal);

    /// <summary>The importance side of the same pass.</summary>
    public ImportanceRecorder Importance { get; } = new();

    public void Record(string matrixName, ReadOnlySpan<float> inputRows, int columns)
    {
        Importance.Record(matrixName, inputRows, columns);
        if (!_matrices.TryGetValue(matrixName, out Matrix? matrix))
        {
            matrix = new Matrix(columns, matrixName.GetHashCode(StringComparison.Ordinal));
            _matrices.Add(matrixName, matrix);
        }

        matrix.Statistics.Add(inputRows);
        for (int r = 0; r < inputRows.Length / columns; r++)
        {
            matrix.Keep(inputRows.Slice(r * columns, columns));
        }
    }

    /// <summary>XᵀX and the column statistics of <paramref name="matrixName"/>'s inputs.</summary>
    public ActivationStatistics Statistics(string matrixName) => Get(matrixName).Statistics;

    /// <summary>Up to <see cref="SampleRows"/> of <paramref name="matrixName"/>'s input rows, row-major.</summary>
    public float[] Samples(string matrixName) => [.. Get(matrixName).Rows.SelectMany(r => r)];

    private Matrix Get(string matrixName) => _matrices.TryGetValue(matrixName, out Matrix? m)
        ? m : throw new ArgumentException($"No calibration statistics for '{matrixName}'.", nameof(matrixName));

    private sealed class Matrix(int columns, int seed)
    {
        private readonly Random _random = new(seed);
        private long _seen;

        public ActivationStatistics Statistics { get; } = new(columns);

        public List<float[]> Rows { get; } = [];

        public void Keep(ReadOnlySpan<float> row)
        {
            _seen++;
            if (Rows.Count < SampleRows)
            {
                Rows.Add(row.ToArray());
                return;
            }

            long slot = _random.NextInt64(_seen);
            if (slot < SampleRows)
            {
                Rows[(int)slot] = row.ToArray();
            }
        }
    }
}
