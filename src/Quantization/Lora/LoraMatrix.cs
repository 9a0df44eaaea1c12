using CommunityToolkit.HighPerformance.Buffers;
using CommunityToolkit.HighPerformance.Helpers;

namespace Quantization.Lora;

/// <summary>
/// A base weight matrix with low-rank adapters applied on the fly: y = W·x + Σᵢ sᵢ·Scalingᵢ·Bᵢ·(Aᵢ·x). The base is
/// multiplied as it is stored (quantized or not); each adapter adds O(r·(rows + columns)) work per vector and no
/// dense rows × columns delta is ever formed.
/// </summary>
/// <remarks>
/// <para>A batch runs the base product for the whole batch first, then each adapter's A·x for every activation row,
/// then B·(A·x). The base product's rows and the adapters' batch rows are split across threads as
/// <c>maxDegreeOfParallelism</c> says; a single vector's adapter part runs on the calling thread (it is a few percent
/// of the base product). Every result is the same whatever the thread count.</para>
/// <para>Instances are safe to share between threads, like <see cref="QuantizedMatrix"/>: the matrix owns the scratch
/// a single-vector call needs, and a call that finds it in use (or a batch too large for it) takes a pooled buffer.
/// Scales may be changed between calls; a call that overlaps a change may see either value.</para>
/// </remarks>
public sealed unsafe class LoraMatrix : IWeightMatrix
{
    // Below this many activation rows per thread, the adapters' part is not worth splitting.
    private const int MinBatchRowsPerPart = 4;

    private readonly LoraAdapter[] _adapters;
    private readonly float[] _scales;
    private readonly int _totalRank;
    private float[]? _scratch;

    /// <summary>Wraps <paramref name="baseMatrix"/> with <paramref name="adapters"/>, each at scale 1.</summary>
    /// <param name="baseMatrix">The frozen weights.</param>
    /// <param name="adapters">Adapters whose input and output sizes match the base's columns and rows.</param>
    /// <exception cref="ArgumentException">An adapter's shape does not match the base.</exception>
    public LoraMatrix(IWeightMatrix baseMatrix, params ReadOnlySpan<LoraAdapter> adapters)
    {
        ArgumentNullException.ThrowIfNull(baseMatrix);
        Base = baseMatrix;
        _adapters = adapters.ToArray();
        _scales = new float[_adapters.Length];
        for (int i = 0; i < _adapters.Length; i++)
        {
            LoraAdapter adapter = _adapters[i];
            ArgumentNullException.ThrowIfNull(adapter, nameof(adapters));
            if (adapter.InputSize != baseMatrix.Columns || adapter.OutputSize != baseMatrix.Rows)
            {
                ThrowHelper.ThrowArgument(nameof(adapters),
                    $"Adapter {i} maps {adapter.InputSize} inputs to {adapter.OutputSize} outputs; the base matrix is {baseMatrix.Rows} × {baseMatrix.Columns}.");
            }

            _scales[i] = 1f;
            _totalRank += adapter.Rank;
        }

        _scratch = new float[_totalRank];
    }

    /// <summary>The frozen weights the adapters are added to.</summary>
    public IWeightMatrix Base { get; }

    /// <summary>The adapters, in the order their scales are indexed.</summary>
    public IReadOnlyList<LoraAdapter> Adapters => _adapters;

    /// <summary>Number of weight rows (outputs).</summary>
    public int Rows => Base.Rows;

    /// <summary>Values per weight row (inputs).</summary>
    public int Columns => Base.Columns;

    /// <summary>The user scale of adapter <paramref name="index"/> (1 unless set), applied on top of its <see cref="LoraAdapter.Scaling"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an adapter's.</exception>
    public float GetScale(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_scales.Length, nameof(index));
        return Volatile.Read(ref _scales[index]);
    }

    /// <summary>Sets the user scale of adapter <paramref name="index"/>; 0 switches the adapter off.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an adapter's.</exception>
    /// <exception cref="ArgumentException"><paramref name="scale"/> is not finite.</exception>
    public void SetScale(int index, float scale)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_scales.Length, nameof(index));
        if (!float.IsFinite(scale))
        {
            ThrowHelper.ThrowArgument(nameof(scale), $"The scale {scale} is not finite.");
        }

        Volatile.Write(ref _scales[index], scale);
    }

    /// <summary>y = W·x + Σᵢ sᵢ·Scalingᵢ·Bᵢ·(Aᵢ·x).</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to use (the base product's rows, the adapters' batch rows); −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·(W + Σᵢ sᵢ·Scalingᵢ·Bᵢ·Aᵢ)ᵀ for <paramref name="batch"/> activation rows.</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to use (the base product's rows, the adapters' batch rows); −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        // The base validates every length and argument before it writes anything.
        Base.MatMul(x, y, batch, maxDegreeOfParallelism);
        if (_totalRank == 0 || batch == 0 || Rows == 0)
        {
            return;
        }

        int parts = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        parts = Math.Max(1, Math.Min(parts, batch / MinBatchRowsPerPart));
        int needed = checked(batch * _totalRank);
        float[]? owned = Interlocked.Exchange(ref _scratch, null);
        if (owned is not null && owned.Length >= needed)
        {
            AddAdapters(x, y, batch, owned.AsSpan(0, needed), parts);
            _scratch = owned;
            return;
        }

        // In use by another thread, or too small for this batch: a pooled buffer, the owned one kept as it was.
        _scratch ??= owned;
        using SpanOwner<float> pooled = SpanOwner<float>.Allocate(needed);
        AddAdapters(x, y, batch, pooled.Span, parts);
    }

    private void AddAdapters(ReadOnlySpan<float> x, Span<float> y, int batch, Span<float> scratch, int parts)
    {
        if (parts == 1)
        {
            AddAdapters(x, y, scratch, 0, batch);
            return;
        }

        fixed (float* xp = x)
        fixed (float* yp = y)
        fixed (float* sp = scratch)
        {
            ParallelHelper.For(0, parts, new BatchRows(this, xp, yp, sp, batch, parts), minimumActionsPerThread: 1);
        }
    }

    /// <summary>Adds the adapters' part to batch rows <paramref name="first"/> to <paramref name="end"/> − 1.</summary>
    private void AddAdapters(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int first, int end)
    {
        int n = Columns, m = Rows;

        // Down-projection for every row first (T = X·Aᵀ, rows × total rank), then the up-projection.
        for (int b = first; b < end; b++)
        {
            ReadOnlySpan<float> xRow = x.Slice(b * n, n);
            Span<float> t = scratch.Slice(b * _totalRank, _totalRank);
            int offset = 0;
            foreach (LoraAdapter adapter in _adapters)
            {
                LoraKernels.ProjectDown(adapter, xRow, t.Slice(offset, adapter.Rank));
                offset += adapter.Rank;
            }
        }

        for (int b = first; b < end; b++)
        {
            Span<float> yRow = y.Slice(b * m, m);
            ReadOnlySpan<float> t = scratch.Slice(b * _totalRank, _totalRank);
            int offset = 0;
            for (int i = 0; i < _adapters.Length; i++)
            {
                LoraAdapter adapter = _adapters[i];
                float scale = Volatile.Read(ref _scales[i]) * adapter.Scaling;
                if (scale != 0)
                {
                    LoraKernels.AccumulateUp(adapter, t.Slice(offset, adapter.Rank), scale, yRow);
                }

                offset += adapter.Rank;
            }
        }
    }

    /// <summary>One thread's share of a batch: contiguous activation rows, each computed exactly as on one thread.</summary>
    private readonly struct BatchRows(LoraMatrix matrix, float* x, float* y, float* scratch, int batch, int parts) : IAction
    {
        public void Invoke(int part)
        {
            int first = (int)((long)batch * part / parts), end = (int)((long)batch * (part + 1) / parts);
            int n = matrix.Columns, m = matrix.Rows, r = matrix._totalRank;
            matrix.AddAdapters(new ReadOnlySpan<float>(x, batch * n), new Span<float>(y, batch * m), new Span<float>(scratch, batch * r), first, end);
        }
    }
}
