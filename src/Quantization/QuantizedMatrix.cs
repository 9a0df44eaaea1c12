using System.Buffers;
using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization;

/// <summary>
/// A weight matrix in a block format (weights, format and shape, checked once) for callers who multiply by the same
/// weights repeatedly. It owns the scratch its integer path quantizes the activations into, so a call allocates nothing;
/// the results are those of <see cref="QuantizedMath"/> with the same arguments.
/// </summary>
/// <remarks>
/// Instances are safe to share between threads: a call that finds the owned scratch in use by another thread takes a
/// pooled buffer instead. The weight memory is read, never written or copied; it must not change while a call runs.
/// Weights may live in a memory-mapped model (<see cref="Gguf.GgufTensorView.AsMatrix()"/>): they are pinned for the
/// length of each call, and a call after the file is disposed throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class QuantizedMatrix : IWeightMatrix
{
    private readonly KernelEntry _kernel;
    private readonly DotEntry? _dot;
    private readonly int _rowBytes;
    private byte[]? _scratch;

    /// <summary>Wraps <paramref name="weights"/>: <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>.</summary>
    /// <param name="type">The weight format.</param>
    /// <param name="weights">Exactly <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>.</param>
    /// <param name="rows">Number of weight rows (outputs).</param>
    /// <param name="columns">Values per weight row; a positive multiple of the format's block size.</param>
    /// <exception cref="ArgumentException">The byte count does not match the shape, or <paramref name="columns"/> is not a positive multiple of the block size.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be multiplied by this version.</exception>
    public QuantizedMatrix(QuantType type, ReadOnlyMemory<byte> weights, int rows, int columns)
    {
        _rowBytes = MatMulDriver.Validate(type, weights.Span, rows, columns, columns, rows, 1, 1, out _kernel);
        _dot = DotRegistry.TryGet(type);
        Type = type;
        Weights = weights;
        Rows = rows;
        Columns = columns;
        _scratch = _dot is null ? null : new byte[MatMulDriver.ActivationRowBytes(_dot, columns)];
    }

    /// <summary>The weight format.</summary>
    public QuantType Type { get; }

    /// <summary>The weight bytes, row after row.</summary>
    public ReadOnlyMemory<byte> Weights { get; }

    /// <summary>Number of weight rows (outputs).</summary>
    public int Rows { get; }

    /// <summary>Values per weight row (inputs).</summary>
    public int Columns { get; }

    /// <summary>Whether <see cref="MatVec"/> and <see cref="MatMul"/> run the integer path (see <see cref="QuantizedMath.HasIntegerDot"/>).</summary>
    public bool HasIntegerDot => _dot is { IsInteger: true };

    /// <summary>y = W·x through the integer path (<see cref="QuantizedMath.MatVec"/>).</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows through the integer path (<see cref="QuantizedMath.MatMul"/>).</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        using MemoryHandle lease = LeaseWeights();
        MatMulDriver.Validate(Type, Weights.Span, Rows, Columns, x.Length, y.Length, batch, maxDegreeOfParallelism, out _);
        if (Rows == 0 || batch == 0)
        {
            return;
        }

        int parts = MatMulDriver.Parts(Rows, maxDegreeOfParallelism);
        if (_dot is null)
        {
            MatMulDriver.RunFloat(_kernel, Weights.Span, Rows, Columns, _rowBytes, x, y, batch, parts);
            return;
        }

        int needed = checked(batch * MatMulDriver.ActivationRowBytes(_dot, Columns));
        byte[]? owned = Interlocked.Exchange(ref _scratch, null);
        if (owned is not null && owned.Length >= needed)
        {
            MatMulDriver.RunQuantized(_dot, Weights.Span, Rows, Columns, _rowBytes, x, y, batch, parts, owned.AsSpan(0, needed));
            _scratch = owned;
            return;
        }

        // In use by another thread, or too small for this batch: a pooled buffer, the owned one kept as it was.
        _scratch ??= owned;
        using SpanOwner<byte> pooled = SpanOwner<byte>.Allocate(needed);
        MatMulDriver.RunQuantized(_dot, Weights.Span, Rows, Columns, _rowBytes, x, y, batch, parts, pooled.Span);
    }

    /// <summary>y = W·x through the float path (<see cref="QuantizedMath.MatVecAccurate"/>).</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatVecAccurate(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) =>
        MatMulAccurate(x, y, 1, maxDegreeOfParallelism);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows through the float path (<see cref="QuantizedMath.MatMulAccurate"/>).</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    public void MatMulAccurate(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        using MemoryHandle lease = LeaseWeights();
        MatMulDriver.Validate(Type, Weights.Span, Rows, Columns, x.Length, y.Length, batch, maxDegreeOfParallelism, out _);
        if (Rows == 0 || batch == 0)
        {
            return;
        }

        MatMulDriver.RunFloat(_kernel, Weights.Span, Rows, Columns, _rowBytes, x, y, batch, MatMulDriver.Parts(Rows, maxDegreeOfParallelism));
    }

    /// <summary>
    /// Weights owned by a memory manager (a memory-mapped GGUF tensor, native memory) are pinned for the length of a
    /// call: the owner cannot release them under a running product, and a disposed owner throws here, before any read.
    /// Array-backed weights need nothing.
    /// </summary>
    private MemoryHandle LeaseWeights() =>
        MemoryMarshal.TryGetMemoryManager(Weights, out MemoryManager<byte>? _) ? Weights.Pin() : default;
}
