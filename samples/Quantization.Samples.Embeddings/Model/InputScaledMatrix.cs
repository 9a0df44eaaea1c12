using System.Buffers;
using System.Numerics.Tensors;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// A matrix quantized as W·diag(s) by AWQ, multiplied by inputs divided by s, so that the product stays W·x. A deployed
/// model folds 1/s into the operation before the matrix (a layer norm's weight and bias, or the previous matrix's rows);
/// here it is one element-wise product per input row, which leaves the encoder's code unchanged.
/// </summary>
public sealed class InputScaledMatrix(QuantizedMatrix matrix, float[] scales) : IWeightMatrix
{
    private readonly float[] _inverse = [.. scales.Select(s => 1 / s)];

    /// <summary>The quantized W·diag(s).</summary>
    public QuantizedMatrix Matrix { get; } = matrix;

    public int Rows => Matrix.Rows;

    public int Columns => Matrix.Columns;

    /// <summary>The scales' storage, one float per input.</summary>
    public long ScaleBytes => _inverse.Length * sizeof(float);

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        float[] scaled = ArrayPool<float>.Shared.Rent(x.Length);
        try
        {
            for (int b = 0; b < batch; b++)
            {
                TensorPrimitives.Multiply(x.Slice(b * Columns, Columns), _inverse, scaled.AsSpan(b * Columns, Columns));
            }

            Matrix.MatMul(scaled.AsSpan(0, x.Length), y, batch, maxDegreeOfParallelism);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scaled);
        }
    }
}
