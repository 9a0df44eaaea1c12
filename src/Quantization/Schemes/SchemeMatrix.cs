using CommunityToolkit.HighPerformance.Buffers;

namespace Quantization.Schemes;

/// <summary>
/// A weight matrix in a <see cref="QuantScheme"/> (weights, scheme and shape checked once) for callers who multiply by the
/// same weights repeatedly. It owns the scratch of its prepared activations, so a single-vector call allocates nothing;
/// results are those of <see cref="SchemeMath"/> with the same arguments.
/// </summary>
/// <remarks>
/// Safe to share between threads: a call that finds the owned scratch in use takes a pooled buffer instead. The weight
/// memory is read, never written or copied; it must not change while a call runs.
/// </remarks>
public sealed class SchemeMatrix : IWeightMatrix
{
    private readonly SchemeLayout _layout;
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
    }

    /// <summary>The weights' scheme.</summary>
    public QuantScheme Scheme => _layout.Scheme;

    /// <summary>The weight bytes.</summary>
    public ReadOnlyMemory<byte> Weights { get; }

    /// <summary>Rows (outputs).</summary>
    public int Rows => _layout.Rows;

    /// <summary>Columns (inputs).</summary>
    public int Columns => _layout.Columns;

    /// <summary>y = W·x (<see cref="SchemeMath.MatVec"/>).</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows (<see cref="SchemeMath.MatMul"/>).</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
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
