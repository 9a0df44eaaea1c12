using CommunityToolkit.HighPerformance.Buffers;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// A <see cref="SchemeMatrix"/> whose columns are the inputs in the order <c>columnInputs</c> gives (activation-order
/// GPTQ): each call gathers x[columnInputs[j]] into a pooled buffer and multiplies by the scheme matrix; without a
/// permutation the activations go straight through.
/// </summary>
internal sealed class PermutedSchemeMatrix
{
    private readonly int[]? _columnInputs;

    public PermutedSchemeMatrix(SchemeMatrix matrix, int[]? columnInputs)
    {
        Matrix = matrix;
        _columnInputs = columnInputs;
    }

    public SchemeMatrix Matrix { get; }

    public bool IsPermuted => _columnInputs is not null;

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism)
    {
        if (_columnInputs is null || batch < 0 || x.Length != (long)batch * Matrix.Columns)
        {
            Matrix.MatMul(x, y, batch, maxDegreeOfParallelism); // the scheme matrix reports a wrong length
            return;
        }

        int columns = Matrix.Columns;
        using SpanOwner<float> gathered = SpanOwner<float>.Allocate(batch * columns);
        Span<float> xp = gathered.Span;
        int[] inputs = _columnInputs;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> source = x.Slice(b * columns, columns);
            Span<float> destination = xp.Slice(b * columns, columns);
            for (int j = 0; j < destination.Length; j++)
            {
                destination[j] = source[inputs[j]];
            }
        }

        Matrix.MatMul(xp, y, batch, maxDegreeOfParallelism);
    }

    /// <summary>The float weights, rows × inputs in the original input order.</summary>
    public void Dequantize(Span<float> destination)
    {
        int rows = Matrix.Rows;
        int columns = Matrix.Columns;
        if (destination.Length < (long)rows * columns)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has room for {destination.Length} values; {rows} × {columns} need {(long)rows * columns}.");
        }

        if (_columnInputs is null)
        {
            SchemeQuantizer.Dequantize(Matrix.Scheme, Matrix.Weights.Span, rows, columns, destination[..(rows * columns)]);
            return;
        }

        using SpanOwner<float> ordered = SpanOwner<float>.Allocate(rows * columns);
        SchemeQuantizer.Dequantize(Matrix.Scheme, Matrix.Weights.Span, rows, columns, ordered.Span);
        int[] inputs = _columnInputs;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> source = ordered.Span.Slice(r * columns, columns);
            Span<float> row = destination.Slice(r * columns, columns);
            for (int j = 0; j < columns; j++)
            {
                row[inputs[j]] = source[j];
            }
        }
    }
}
