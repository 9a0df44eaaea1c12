using CommunityToolkit.HighPerformance.Buffers;

namespace Quantization.Schemes;

/// <summary>
/// Matrix-vector and matrix-matrix products over <see cref="QuantScheme"/> weights (the bytes
/// <see cref="SchemeQuantizer.Quantize"/> writes), without materialising float weights (docs/formats.md#scheme-products).
/// </summary>
/// <remarks>
/// Activations stay in float. Each group contributes scale · Σ (code − zero) · x for integer codes (the differences exact in
/// integers) or scale · Σ FP8(code) · x, so the result equals the product with the dequantized matrix up to the order of the
/// float additions. Scratch comes from a pool: a call allocates nothing once the pool is warm. Shapes are checked before
/// anything is written.
/// </remarks>
public static class SchemeMath
{
    /// <summary>y[r] = Σc W[r, c]·x[c].</summary>
    /// <param name="scheme">The weights' scheme.</param>
    /// <param name="weights">Exactly <see cref="SchemeQuantizer.GetByteCount"/>(<paramref name="scheme"/>, <paramref name="rows"/>, <paramref name="columns"/>) bytes.</param>
    /// <param name="rows">Rows (outputs).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <param name="x">Exactly <paramref name="columns"/> values.</param>
    /// <param name="y">At least <paramref name="rows"/> values; the first <paramref name="rows"/> are written.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">The scheme is invalid, or a shape or length is wrong.</exception>
    public static void MatVec(QuantScheme scheme, ReadOnlySpan<byte> weights, int rows, int columns, ReadOnlySpan<float> x, Span<float> y,
                              int maxDegreeOfParallelism = -1) =>
        MatMul(scheme, weights, rows, columns, x, y, 1, maxDegreeOfParallelism);

    /// <summary>y[b·rows + r] = Σc W[r, c]·x[b·columns + c] for <paramref name="batch"/> activation rows; each weight row is read once for all of them.</summary>
    /// <param name="scheme">The weights' scheme.</param>
    /// <param name="weights">Exactly <see cref="SchemeQuantizer.GetByteCount"/>(<paramref name="scheme"/>, <paramref name="rows"/>, <paramref name="columns"/>) bytes.</param>
    /// <param name="rows">Rows (outputs per activation row).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <param name="x">The activations, <paramref name="batch"/> × <paramref name="columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <paramref name="rows"/>, row-major (at least that many values).</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">The scheme is invalid, or a shape or length is wrong.</exception>
    public static void MatMul(QuantScheme scheme, ReadOnlySpan<byte> weights, int rows, int columns, ReadOnlySpan<float> x, Span<float> y,
                              int batch, int maxDegreeOfParallelism = -1)
    {
        SchemeLayout layout = Validate(scheme, weights.Length, rows, columns, x.Length, y.Length, batch, maxDegreeOfParallelism);
        if (rows == 0 || batch == 0)
        {
            return;
        }

        using SpanOwner<float> prepared = SpanOwner<float>.Allocate(checked(batch * columns));
        SchemeDot.Run(layout, SchemeDot.BestFor(layout), weights, x, y, batch, SchemeDot.Parts(rows, maxDegreeOfParallelism), prepared.Span);
    }

    internal static SchemeLayout Validate(QuantScheme scheme, int weightBytes, int rows, int columns, int xLength, int yLength, int batch,
                                          int maxDegreeOfParallelism)
    {
        SchemeLayout layout = SchemeLayout.Create(scheme, rows, columns);
        layout.ThrowIfWrongByteCount(weightBytes, "weights");
        if (batch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must not be negative.");
        }

        if (maxDegreeOfParallelism is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use a positive thread count or -1.");
        }

        if (xLength != (long)batch * columns)
        {
            ThrowHelper.ThrowArgument("x", $"x has {xLength} values; {batch} row(s) of {columns} columns take {(long)batch * columns}.");
        }

        if (yLength < (long)batch * rows)
        {
            ThrowHelper.ThrowArgument("y", $"y has room for {yLength} values; {batch} row(s) of {rows} results need {(long)batch * rows}.");
        }

        return layout;
    }
}
