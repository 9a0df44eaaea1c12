using CommunityToolkit.HighPerformance.Buffers;

namespace Quantization.Schemes;

/// <summary>
/// A weight matrix in a <see cref="QuantScheme"/> (weights, scheme and shape checked once) for callers who multiply by the
/// same weights repeatedly. It owns the scratch of its prepared activations, so a single-vector call allocates nothing.
/// </summary>
/// <remarks>
/// Safe to share between threads: a call that finds the owned scratch in use takes a pooled buffer instead. The weight
/// memory is read, never written or copied; it must not change while a call runs. <see cref="MatVecAccurate"/> gives
/// <see cref="SchemeMath"/>'s results; <see cref="MatVec"/> is faster where <see cref="HasIntegerDot"/>.
/// </remarks>
public sealed class SchemeMatrix : IWeightMatrix
{
    private readonly SchemeLayout _layout;
    private readonly bool _integer;
    private float[]? _scratch;

    /// <summary>Wraps <paramref name="weights"/>: <paramref name="rows"/> × <paramref name="columns"/> in <paramref name="scheme"/>.</summary>
    /// <param name="scheme">The weights' scheme.</param>
    /// <param name="weights">Exactly <see cref="SchemeQuantizer.GetByteCount"/> bytes.</param>
    /// <param name="rows">Rows (outputs).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <exception cref="ArgumentException">The scheme is invalid, or the byte count does not match the shape.</exception>
    public SchemeMatrix(QuantScheme scheme, ReadOnlyMemory<byte> weights, int rows, int columns)
    {
        _layout = SchemeLayout.Create(scheme, rows, columns);
        _layout.ThrowIfWrongByteCount(weights.Length, nameof(weights));
        Weights = weights;
        _scratch = new float[columns];
        _integer = IntegerQ8Dot.Supports(_layout);
    }

    /// <summary>The weights' scheme.</summary>
    public QuantScheme Scheme => _layout.Scheme;

    /// <summary>The weight bytes.</summary>
    public ReadOnlyMemory<byte> Weights { get; }

    /// <summary>Rows (outputs).</summary>
    public int Rows => _layout.Rows;

    /// <summary>Columns (inputs).</summary>
    public int Columns => _layout.Columns;

    /// <summary>
    /// Whether <see cref="MatVec"/> and <see cref="MatMul"/> quantize the activations to 8 bits and sum in integers: 4- and
    /// 8-bit integer schemes whose groups (or rows) are multiples of 32 columns, on processors with AVX2.
    /// </summary>
    public bool HasIntegerDot => _integer;

    /// <summary>y = W·x.</summary>
    /// <remarks>
    /// Where <see cref="HasIntegerDot"/>, the activations are first quantized to 8 bits per 32 columns (d = max |x| / 127,
    /// as the GGUF formats' integer products quantize theirs) and each chunk's products are summed exactly in integers
    /// (docs/formats.md#scheme-products); otherwise the result is <see cref="MatVecAccurate"/>'s.
    /// </remarks>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows, with <see cref="MatVec"/>'s arithmetic.</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        if (!_integer)
        {
            MatMulAccurate(x, y, batch, maxDegreeOfParallelism);
            return;
        }

        SchemeMath.Validate(Scheme, Weights.Length, Rows, Columns, x.Length, y.Length, batch, maxDegreeOfParallelism);
        if (Rows == 0 || batch == 0)
        {
            return;
        }

        IntegerQ8Dot.MatMul(_layout, Weights.Span, x, null, y, batch, SchemeDot.Parts(Rows, maxDegreeOfParallelism));
    }

    /// <summary>y = W·x with the activations in float (<see cref="SchemeMath.MatVec"/>).</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatVecAccurate(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMulAccurate(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows with the activations in float (<see cref="SchemeMath.MatMul"/>).</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatMulAccurate(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        SchemeMath.Validate(Scheme, Weights.Length, Rows, Columns, x.Length, y.Length, batch, maxDegreeOfParallelism);
        if (Rows == 0 || batch == 0)
        {
            return;
        }

        int parts = SchemeDot.Parts(Rows, maxDegreeOfParallelism);
        int needed = checked(batch * Columns);
        float[]? owned = Interlocked.Exchange(ref _scratch, null);
        if (owned is not null && owned.Length >= needed)
        {
            SchemeDot.Run(_layout, SchemeDot.BestFor(_layout), Weights.Span, x, y, batch, parts, owned.AsSpan(0, needed));
            _scratch = owned;
            return;
        }

        // In use by another thread, or too small for this batch: a pooled buffer, the owned one kept.
        _scratch ??= owned;
        using SpanOwner<float> pooled = SpanOwner<float>.Allocate(needed);
        SchemeDot.Run(_layout, SchemeDot.BestFor(_layout), Weights.Span, x, y, batch, parts, pooled.Span);
    }
}
