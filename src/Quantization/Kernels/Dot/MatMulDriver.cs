using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Helpers;
using System.Numerics.Tensors;

namespace Quantization.Kernels.Dot;

/// <summary>
/// The row loops of <see cref="QuantizedMath"/> and <see cref="QuantizedMatrix"/>, written once: validation, activation
/// quantization, and the split of the weight rows into contiguous ranges (whole tiles of <see cref="RowTile"/> rows)
/// across threads with struct work items (<see cref="ParallelHelper"/>). The caller pins nothing and allocates nothing;
/// the buffers stay pinned here for the whole parallel loop.
/// </summary>
internal static unsafe class MatMulDriver
{
    /// <summary>
    /// Weight rows per kernel call: each activation block's share of the work is prepared once per tile, and a tile
    /// (tens of KiB) stays in cache while it is multiplied by every activation row of a batch.
    /// </summary>
    public const int RowTile = 32;

    /// <summary>Values dequantized at a time by the float path (a multiple of every block size up to 256).</summary>
    private const int FloatChunk = 256;

    /// <summary>Checks every shape and length before anything is written; returns the weight bytes per row.</summary>
    public static int Validate(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns, int xLength, int yLength, int batch,
                               int maxDegreeOfParallelism, out KernelEntry kernel)
    {
        QuantFormat format = QuantFormat.Get(type);
        KernelEntry? entry = KernelRegistry.TryGet(type);
        if (entry is null || !entry.CanDequantize)
        {
            ThrowHelper.ThrowNotSupported(type, "Matrix multiplication");
        }

        kernel = entry;
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use a positive thread count, or -1 for one per processor.");
        }

        if (columns <= 0 || columns % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(columns), $"{columns} columns is not a positive multiple of the {format.Name} block size {format.BlockSize}.");
        }

        // A format with a per-tensor trailer (I2_S's scale) stores it once, after the last row.
        long rowBytes = (long)(columns / format.BlockSize) * format.BytesPerBlock;
        long expected = rows * rowBytes + format.TrailerBytes;
        if (rowBytes > int.MaxValue || weights.Length != expected)
        {
            ThrowHelper.ThrowArgument(nameof(weights), format.TrailerBytes == 0
                ? $"Weights have {weights.Length} bytes; {rows} rows of {columns} {format.Name} values take {expected}."
                : $"Weights have {weights.Length} bytes; {rows} rows of {columns} {format.Name} values take {expected} ({rows * rowBytes} and the {format.TrailerBytes}-byte tensor trailer).");
        }

        if (xLength != (long)batch * columns)
        {
            ThrowHelper.ThrowArgument("x", $"x has {xLength} values; {batch} row(s) of {columns} columns take {(long)batch * columns}.");
        }

        if (yLength < (long)batch * rows)
        {
            ThrowHelper.ThrowArgument("y", $"y has room for {yLength} values; {batch} row(s) of {rows} results need {(long)batch * rows}.");
        }

        return (int)rowBytes;
    }

    /// <summary>Bytes of one activation row of <paramref name="columns"/> values in the activation format of <paramref name="dot"/> (its trailer included).</summary>
    public static int ActivationRowBytes(DotEntry dot, int columns) =>
        checked(columns / dot.ActivationFormat.BlockSize * dot.ActivationFormat.BytesPerBlock + dot.ActivationFormat.TrailerBytes);

    /// <summary>The number of row ranges to run: at most one per thread, at least one whole tile each.</summary>
    public static int Parts(int rows, int maxDegreeOfParallelism)
    {
        int threads = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        int tiles = (rows + RowTile - 1) / RowTile;
        return Math.Max(1, Math.Min(threads, tiles));
    }

    /// <summary>
    /// y[b·rows + r] = Σc W[r, c]·x[b·columns + c] with x quantized once into <paramref name="scratch"/>
    /// (<paramref name="batch"/> × <see cref="ActivationRowBytes"/> bytes) and the integer dot kernel; for a weight format
    /// with a per-tensor trailer each result is then multiplied by the trailer's <see cref="DotEntry.TensorScale"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (docs/architecture.md#first-calls)
    public static void RunQuantized(DotEntry dot, ReadOnlySpan<byte> weights, int rows, int columns, int rowBytes,
                                    ReadOnlySpan<float> x, Span<float> y, int batch, int parts, Span<byte> scratch)
    {
        KernelEntry activation = KernelRegistry.TryGet(dot.ActivationType)!;
        int actBytes = ActivationRowBytes(dot, columns);
        for (int b = 0; b < batch; b++)
        {
            activation.Quantize!(x.Slice(b * columns, columns), scratch.Slice(b * actBytes, actBytes), default);
        }

        float tensorScale = dot.TensorScale?.Invoke(weights[(rows * rowBytes)..]) ?? 1f;
        fixed (byte* w = weights)
        fixed (byte* a = scratch)
        fixed (float* yp = y)
        {
            var work = new QuantizedRows(dot, w, a, yp, rows, columns, rowBytes, actBytes, batch, parts, tensorScale);
            Run(in work, parts);
        }
    }

    /// <summary>The float path: each weight chunk is dequantized once and multiplied by every activation row in float.</summary>
    public static void RunFloat(KernelEntry kernel, ReadOnlySpan<byte> weights, int rows, int columns, int rowBytes,
                                ReadOnlySpan<float> x, Span<float> y, int batch, int parts)
    {
        fixed (byte* w = weights)
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            var work = new FloatRows(kernel, w, xp, yp, rows, columns, rowBytes, batch, parts);
            Run(in work, parts);
        }
    }

    private static void Run<TAction>(in TAction work, int parts) where TAction : struct, IAction
    {
        if (parts == 1)
        {
            work.Invoke(0);
        }
        else
        {
            ParallelHelper.For(0, parts, in work, minimumActionsPerThread: 1);
        }
    }

    /// <summary>First row of range <paramref name="part"/>: ranges are whole tiles, balanced to within one tile.</summary>
    private static int RangeStart(int rows, int parts, int part)
    {
        long tiles = (rows + RowTile - 1) / RowTile;
        return (int)Math.Min(rows, tiles * part / parts * RowTile);
    }

    private readonly struct QuantizedRows(DotEntry dot, byte* weights, byte* activations, float* y, int rows, int columns,
                                          int rowBytes, int actBytes, int batch, int parts, float tensorScale) : IAction
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            int first = RangeStart(rows, parts, part);
            int end = RangeStart(rows, parts, part + 1);
            Span<float> tile = stackalloc float[RowTile];
            for (int r = first; r < end; r += RowTile)
            {
                int count = Math.Min(RowTile, end - r);
                var w = new ReadOnlySpan<byte>(weights + (long)r * rowBytes, count * rowBytes);
                for (int b = 0; b < batch; b++)
                {
                    var a = new ReadOnlySpan<byte>(activations + (long)b * actBytes, actBytes);
                    Span<float> results = tile[..count];
                    dot.DotRows(w, rowBytes, a, columns, results);
                    if (dot.TensorScale is not null)
                    {
                        TensorPrimitives.Multiply(results, tensorScale, results);
                    }

                    results.CopyTo(new Span<float>(y + (long)b * rows + r, count));
                }
            }
        }
    }

    private readonly struct FloatRows(KernelEntry kernel, byte* weights, float* x, float* y, int rows, int columns,
                                      int rowBytes, int batch, int parts) : IAction
    {
        public void Invoke(int part)
        {
            QuantFormat format = kernel.Format;
            int chunkBlocks = Math.Max(1, FloatChunk / format.BlockSize);
            int chunkBytes = chunkBlocks * format.BytesPerBlock;
            int chunkValues = chunkBlocks * format.BlockSize;
            int first = RangeStart(rows, parts, part);
            int end = RangeStart(rows, parts, part + 1);
            Span<float> values = stackalloc float[chunkValues];
            var trailer = new ReadOnlySpan<byte>(weights + (long)rows * rowBytes, format.TrailerBytes);
            for (int r = first; r < end; r++)
            {
                var w = new ReadOnlySpan<byte>(weights + (long)r * rowBytes, rowBytes);
                for (int b = 0; b < batch; b++)
                {
                    y[(long)b * rows + r] = 0;
                }

                for (int c = 0, offset = 0; c < columns; c += chunkValues, offset += chunkBytes)
                {
                    int count = Math.Min(chunkValues, columns - c);
                    Span<float> v = values[..count];
                    kernel.DequantizeBlocks(w.Slice(offset, count / format.BlockSize * format.BytesPerBlock), trailer, v);
                    for (int b = 0; b < batch; b++)
                    {
                        y[(long)b * rows + r] += TensorPrimitives.Dot(v, new ReadOnlySpan<float>(x + (long)b * columns + c, count));
                    }
                }
            }
        }
    }
}
