using CommunityToolkit.HighPerformance.Buffers;
using CommunityToolkit.HighPerformance.Helpers;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// A <see cref="SchemeMatrix"/> whose columns are the inputs in the order <c>columnInputs</c> gives (activation-order
/// GPTQ): each call gathers x[columnInputs[j]] into a pooled buffer and multiplies by the scheme matrix; without a
/// permutation the activations go straight through. Asymmetric 4-bit groups with float32 scales (GPTQ and AWQ at 4 bits)
/// run <see cref="Int4GroupDot"/> where the processor has it, the gather folded into its activation order.
/// </summary>
internal sealed unsafe class PermutedSchemeMatrix
{
    private readonly int[]? _columnInputs;
    private readonly SchemeLayout _layout;
    private readonly bool _int4;

    public PermutedSchemeMatrix(SchemeMatrix matrix, int[]? columnInputs)
    {
        Matrix = matrix;
        _columnInputs = columnInputs;
        _layout = SchemeLayout.Create(matrix.Scheme, matrix.Rows, matrix.Columns);
        _int4 = Int4GroupDot.Supports(_layout);
    }

    public SchemeMatrix Matrix { get; }

    public bool IsPermuted => _columnInputs is not null;

    /// <summary>
    /// y = W · x for each of <paramref name="batch"/> inputs. Unless <paramref name="accurate"/>, 4- and 8-bit groups on AVX2
    /// quantize the activations to 8 bits (<see cref="IntegerQ8Dot"/>, as <see cref="SchemeMatrix.MatMul"/>); otherwise they stay in float.
    /// </summary>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism, bool accurate)
    {
        if ((_columnInputs is null && !_int4) || batch < 0 || x.Length != (long)batch * Matrix.Columns)
        {
            MatMulInOrder(x, y, batch, maxDegreeOfParallelism, accurate); // the scheme matrix reports a wrong length
            return;
        }

        int columns = Matrix.Columns;
        if (Matrix.HasIntegerDot && !accurate)
        {
            SchemeMath.Validate(Matrix.Scheme, Matrix.Weights.Length, Matrix.Rows, columns, x.Length, y.Length, batch, maxDegreeOfParallelism);
            IntegerQ8Dot.MatMul(_layout, Matrix.Weights.Span, x, _columnInputs, y, batch, SchemeDot.Parts(Matrix.Rows, maxDegreeOfParallelism));
            return;
        }

        if (_int4)
        {
            SchemeMath.Validate(Matrix.Scheme, Matrix.Weights.Length, Matrix.Rows, columns, x.Length, y.Length, batch, maxDegreeOfParallelism);
            using SpanOwner<float> prepared = SpanOwner<float>.Allocate(batch * columns);
            for (int b = 0; b < batch; b++)
            {
                Int4GroupDot.PrepareActivations(x.Slice(b * columns, columns), _columnInputs, prepared.Span.Slice(b * columns, columns));
            }

            int parts = SchemeDot.Parts(Matrix.Rows, maxDegreeOfParallelism);
            fixed (byte* w = Matrix.Weights.Span)
            fixed (float* xp = prepared.Span)
            fixed (float* yp = y)
            {
                var work = new Int4Rows(_layout, w, xp, yp, batch, parts);
                if (parts == 1)
                {
                    work.Invoke(0);
                }
                else
                {
                    ParallelHelper.For(0, parts, in work, minimumActionsPerThread: 1);
                }
            }

            return;
        }

        using SpanOwner<float> gathered = SpanOwner<float>.Allocate(batch * columns);
        Span<float> xg = gathered.Span;
        int[] inputs = _columnInputs!;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> source = x.Slice(b * columns, columns);
            Span<float> destination = xg.Slice(b * columns, columns);
            for (int j = 0; j < destination.Length; j++)
            {
                destination[j] = source[inputs[j]];
            }
        }

        MatMulInOrder(xg, y, batch, maxDegreeOfParallelism, accurate);
    }

    private void MatMulInOrder(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism, bool accurate)
    {
        if (accurate)
        {
            Matrix.MatMulAccurate(x, y, batch, maxDegreeOfParallelism);
        }
        else
        {
            Matrix.MatMul(x, y, batch, maxDegreeOfParallelism);
        }
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

    private readonly struct Int4Rows(SchemeLayout layout, byte* weights, float* prepared, float* y, int batch, int parts) : IAction
    {
        public void Invoke(int part)
        {
            int first = (int)((long)layout.Rows * part / parts);
            int end = (int)((long)layout.Rows * (part + 1) / parts);
            for (int r = first; r < end; r++)
            {
                for (int b = 0; b < batch; b++)
                {
                    y[(long)b * layout.Rows + r] = Int4GroupDot.DotRow(layout, weights, r, prepared + (long)b * layout.Columns);
                }
            }
        }
    }
}
