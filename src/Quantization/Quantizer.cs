using Quantization.Kernels;

namespace Quantization;

/// <summary>
/// Quantizes float rows into block formats and back. Quantized bytes equal ggml's
/// <c>ggml_quantize_chunk(type, source, destination, 0, rows, rowLength, importance)</c> and dequantized floats
/// equal ggml's <c>dequantize_row_*</c>, bit for bit, on every instruction-set tier.
/// </summary>
/// <remarks>
/// Input policy: NaN and ±Infinity in <c>source</c> (or in <c>importance</c>) are rejected with an
/// <see cref="ArgumentException"/> that names the first offending index; nothing is written in that case.
/// Every length is checked before anything is written.
/// </remarks>
public static class Quantizer
{
    /// <summary>
    /// Gets the number of bytes <paramref name="elementCount"/> values take in <paramref name="type"/>: whole blocks, plus
    /// the per-tensor trailer of a format that has one (<see cref="QuantFormat.TrailerBytes"/>, e.g. I2_S's scale).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not defined, or <paramref name="elementCount"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="elementCount"/> is not a multiple of the type's block size.</exception>
    public static long GetByteCount(QuantType type, long elementCount)
    {
        QuantFormat format = QuantFormat.Get(type);
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        if (elementCount % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(elementCount), $"{elementCount} is not a multiple of the {format.Name} block size {format.BlockSize}.");
        }

        return checked(elementCount / format.BlockSize * format.BytesPerBlock + format.TrailerBytes);
    }

    /// <summary>
    /// Quantizes <paramref name="source"/>, whole rows of <paramref name="rowLength"/> values, into <paramref name="destination"/>.
    /// </summary>
    /// <remarks>
    /// For a format with a per-tensor trailer (<see cref="QuantFormat.TrailerBytes"/>: I2_S) <paramref name="source"/> is the
    /// whole tensor: its shared scale is computed from every value and written after the last row.
    /// </remarks>
    /// <param name="type">The target format.</param>
    /// <param name="source">Whole rows of <paramref name="rowLength"/> values; every value must be finite.</param>
    /// <param name="destination">At least <see cref="GetByteCount"/>(<paramref name="type"/>, <c>source.Length</c>) bytes.</param>
    /// <param name="rowLength">Values per row; a positive multiple of the type's block size.</param>
    /// <param name="importance">Empty, or one non-negative finite weight per column (<paramref name="rowLength"/> values), as llama.cpp's imatrix.
    /// Formats whose ggml quantizer ignores importance (Q8_0, F16, ...) ignore it too; those ggml refuses to quantize without it require it.</param>
    /// <exception cref="ArgumentException">A length is wrong, a value is NaN or infinite, or <paramref name="type"/> requires importance and none is given.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized by this version.</exception>
    public static void Quantize(QuantType type, ReadOnlySpan<float> source, Span<byte> destination, int rowLength,
                                ReadOnlySpan<float> importance = default)
    {
        KernelEntry kernel = Validate(type, source, destination, rowLength, importance, out int rows, out int rowBytes);
        Span<byte> trailer = destination.Slice(rows * rowBytes, kernel.Format.TrailerBytes);
        kernel.QuantizeTrailer(source, trailer);
        for (int r = 0; r < rows; r++)
        {
            kernel.QuantizeRow(source.Slice(r * rowLength, rowLength), destination.Slice(r * rowBytes, rowBytes), importance, trailer);
        }
    }

    /// <summary>
    /// Quantizes like <see cref="Quantize(QuantType, ReadOnlySpan{float}, Span{byte}, int, ReadOnlySpan{float})"/>,
    /// with the rows split into contiguous ranges across up to <paramref name="maxDegreeOfParallelism"/> threads.
    /// The bytes are the same as the single-threaded overload's (a per-tensor trailer is computed from the whole tensor
    /// first, and every row reads it).
    /// </summary>
    /// <param name="type">The target format.</param>
    /// <param name="source">Whole rows of <paramref name="rowLength"/> values; every value must be finite.</param>
    /// <param name="destination">At least <see cref="GetByteCount"/>(<paramref name="type"/>, <c>source.Length</c>) bytes.</param>
    /// <param name="rowLength">Values per row; a positive multiple of the type's block size.</param>
    /// <param name="importance">Empty, or one non-negative finite weight per column.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to use; −1 (the default) for one per processor.</param>
    /// <param name="progress">Receives the number of rows quantized so far, every few tens of thousands of values.</param>
    /// <param name="cancellationToken">
    /// Stops the work within about a millisecond per thread; the call then throws <see cref="OperationCanceledException"/>
    /// and the contents of <paramref name="destination"/> are unspecified.
    /// </param>
    /// <exception cref="ArgumentException">A length is wrong, or a value is NaN or infinite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized by this version.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public static unsafe void QuantizeParallel(QuantType type, ReadOnlySpan<float> source, Span<byte> destination, int rowLength,
                                               ReadOnlySpan<float> importance = default, int maxDegreeOfParallelism = -1,
                                               IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use a positive thread count, or -1 for one per processor.");
        }

        KernelEntry kernel = Validate(type, source, destination, rowLength, importance, out int rows, out int rowBytes);
        cancellationToken.ThrowIfCancellationRequested();
        int threads = Math.Min(rows, maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism);
        if (threads <= 1 && progress is null && !cancellationToken.CanBeCanceled)
        {
            Quantize(type, source, destination, rowLength, importance);
            return;
        }

        threads = Math.Max(threads, 1);
        Span<byte> trailer = destination.Slice(rows * rowBytes, kernel.Format.TrailerBytes);
        kernel.QuantizeTrailer(source, trailer);
        fixed (float* src = source)
        fixed (byte* dst = destination)
        fixed (float* imp = importance)
        {
            var work = new RowRanges(kernel, (nint)src, (nint)dst, (nint)imp, importance.Length, rows, rowLength, rowBytes, threads,
                                     progress, cancellationToken);
            if (threads == 1)
            {
                work.Run(0);
            }
            else
            {
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, work.Run);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// One contiguous range of rows per worker; the buffers stay pinned by the caller for the whole loop. Workers look at
    /// the token and report progress once per chunk of about 64 Ki values, so a cancellation is seen within a chunk.
    /// </summary>
    private sealed unsafe class RowRanges(KernelEntry kernel, nint source, nint destination, nint importance, int importanceLength,
                                          int rows, int rowLength, int rowBytes, int workers,
                                          IProgress<long>? progress, CancellationToken cancellationToken)
    {
        private long _done;

        public void Run(int worker)
        {
            int first = (int)((long)rows * worker / workers);
            int end = (int)((long)rows * (worker + 1) / workers);
            int chunk = Math.Max(1, (1 << 16) / rowLength);
            var imp = new ReadOnlySpan<float>((float*)importance, importanceLength);
            var trailer = new ReadOnlySpan<byte>((byte*)destination + (long)rows * rowBytes, kernel.Format.TrailerBytes);
            for (int start = first; start < end; start += chunk)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                int stop = Math.Min(end, start + chunk);
                for (int r = start; r < stop; r++)
                {
                    var row = new ReadOnlySpan<float>((float*)source + (long)r * rowLength, rowLength);
                    var dst = new Span<byte>((byte*)destination + (long)r * rowBytes, rowBytes);
                    kernel.QuantizeRow(row, dst, imp, trailer);
                }

                long done = Interlocked.Add(ref _done, stop - start);
                progress?.Report(done);
            }
        }
    }

    private static KernelEntry Validate(QuantType type, ReadOnlySpan<float> source, ReadOnlySpan<byte> destination, int rowLength,
                                        ReadOnlySpan<float> importance, out int rows, out int rowBytes)
    {
        KernelEntry kernel = GetKernel(type, quantize: true);
        QuantFormat format = kernel.Format;
        if (rowLength <= 0 || rowLength % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(rowLength), $"Row length {rowLength} is not a positive multiple of the {format.Name} block size {format.BlockSize}.");
        }

        if (source.Length % rowLength != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"Source length {source.Length} is not a whole number of rows of {rowLength} values.");
        }

        if (!importance.IsEmpty && importance.Length != rowLength)
        {
            ThrowHelper.ThrowArgument(nameof(importance), $"Importance has {importance.Length} values; it must be empty or have one per column ({rowLength}).");
        }

        if (importance.IsEmpty && kernel.RequiresImportance)
        {
            ThrowHelper.ThrowArgument(nameof(importance), $"{format.Name} needs importance weights (one per column, e.g. from an imatrix): like ggml, it is not quantized without them.");
        }

        long bytesPerRow = rowLength / format.BlockSize * (long)format.BytesPerBlock;
        rows = source.Length / rowLength;
        if (destination.Length < rows * bytesPerRow + format.TrailerBytes)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {rows * bytesPerRow + format.TrailerBytes} are needed.");
        }

        FiniteCheck.ThrowIfNotFinite(source, nameof(source));
        if (!importance.IsEmpty)
        {
            FiniteCheck.ThrowIfNotFinite(importance, nameof(importance));
            FiniteCheck.ThrowIfNegative(importance, nameof(importance));
        }

        // Fits: a row of bytes is never longer than the destination span once rows > 0.
        rowBytes = rows == 0 ? 0 : (int)bytesPerRow;
        return kernel;
    }

    /// <summary>Dequantizes whole blocks of <paramref name="type"/> from <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <param name="type">The source format.</param>
    /// <param name="source">A whole number of blocks, followed by the per-tensor trailer of a format that has one
    /// (<see cref="QuantFormat.TrailerBytes"/>: I2_S's bytes are one whole tensor).</param>
    /// <param name="destination">At least one float per value the blocks hold.</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not a whole number of blocks, or <paramref name="destination"/> is too small.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be dequantized by this version.</exception>
    public static void Dequantize(QuantType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelEntry kernel = GetKernel(type, quantize: false);
        QuantFormat format = kernel.Format;
        int blockBytes = source.Length - format.TrailerBytes;
        if (blockBytes < 0 || blockBytes % format.BytesPerBlock != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), format.TrailerBytes == 0
                ? $"Source length {source.Length} is not a whole number of {format.Name} blocks of {format.BytesPerBlock} bytes."
                : $"Source length {source.Length} is not a whole number of {format.Name} blocks of {format.BytesPerBlock} bytes followed by the {format.TrailerBytes}-byte tensor trailer.");
        }

        long values = (long)(blockBytes / format.BytesPerBlock) * format.BlockSize;
        if (destination.Length < values)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {values} are needed.");
        }

        kernel.Dequantize!(source, destination[..(int)values]);
    }

    private static KernelEntry GetKernel(QuantType type, bool quantize)
    {
        QuantFormat.Get(type); // undefined ids → ArgumentOutOfRangeException
        KernelEntry? kernel = KernelRegistry.TryGet(type);
        if (kernel is null || (quantize ? !kernel.CanQuantize : !kernel.CanDequantize))
        {
            ThrowHelper.ThrowNotSupported(type, quantize ? "Quantization" : "Dequantization");
        }

        return kernel;
    }
}
