using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quantization.Gguf;

namespace Quantization.Lora;

/// <summary>
/// Folds an adapter into its base weights: W' = dequant(W) + s·Scaling·B·A, computed row block by row block (never the
/// whole float matrix) and quantized again to a chosen type, for one matrix or for every adapted tensor of a GGUF model.
/// </summary>
/// <remarks>
/// The arithmetic is float32 in a fixed order, the same on every processor: for each row, delta = Σₖ B[row, k]·Aₖ
/// with k ascending, then W'[row] = W[row] + (s·Scaling)·delta, every product rounded before its sum (no fused
/// multiply-add). The float32 rounding (about 1e-7 relative) is far below what any quantized type keeps.
/// </remarks>
public static class LoraMerge
{
    private const int BlockValues = 1 << 22; // 16 MiB of floats per row block

    /// <summary>
    /// Writes rows <paramref name="firstRow"/> onwards of W' = dequant(W) + <paramref name="scale"/>·Scaling·B·A as
    /// float32: <paramref name="baseRows"/> is those rows of W in <paramref name="baseType"/>.
    /// </summary>
    /// <param name="baseType">The base weights' type (one that dequantizes row by row).</param>
    /// <param name="baseRows">Whole rows of the base, row <paramref name="firstRow"/> first.</param>
    /// <param name="firstRow">The matrix row of the first row in <paramref name="baseRows"/>.</param>
    /// <param name="adapter">The adapter; its input size is the row length.</param>
    /// <param name="scale">The user scale, on top of <see cref="LoraAdapter.Scaling"/>.</param>
    /// <param name="destination">One float per base value.</param>
    /// <exception cref="ArgumentException">The lengths do not make whole rows, the rows run past the adapter's outputs, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="NotSupportedException"><paramref name="baseType"/> cannot be dequantized row by row.</exception>
    public static void MergeRows(QuantType baseType, ReadOnlySpan<byte> baseRows, int firstRow, LoraAdapter adapter, float scale, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        int columns = adapter.InputSize;
        long rowBytes = RowBytes(baseType, columns, nameof(baseType));
        if (baseRows.Length % rowBytes != 0)
        {
            ThrowHelper.ThrowArgument(nameof(baseRows), $"{baseRows.Length} bytes are not whole rows of {rowBytes} bytes.");
        }

        int rows = (int)(baseRows.Length / rowBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        if ((long)firstRow + rows > adapter.OutputSize)
        {
            ThrowHelper.ThrowArgument(nameof(firstRow), $"Rows {firstRow}..{firstRow + rows - 1} run past the adapter's {adapter.OutputSize} outputs.");
        }

        if (destination.Length != (long)rows * columns)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination has {destination.Length} values; {rows} rows of {columns} need {(long)rows * columns}.");
        }

        if (!float.IsFinite(scale))
        {
            ThrowHelper.ThrowArgument(nameof(scale), $"The scale {scale} is not finite.");
        }

        Quantizer.Dequantize(baseType, baseRows, destination);
        float factor = scale * adapter.Scaling;
        float[] delta = ArrayPool<float>.Shared.Rent(columns);
        try
        {
            for (int r = 0; r < rows; r++)
            {
                LoraKernels.DeltaRow(adapter, firstRow + r, delta);
                LoraKernels.AddScaledInPlace(delta.AsSpan(0, columns), factor, destination.Slice(r * columns, columns));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(delta);
        }
    }

    /// <summary>
    /// Merges <paramref name="adapter"/> into a whole matrix and quantizes the result to <paramref name="targetType"/>.
    /// </summary>
    /// <param name="baseType">The base weights' type.</param>
    /// <param name="baseWeights">The base: <see cref="LoraAdapter.OutputSize"/> rows of <see cref="LoraAdapter.InputSize"/> values.</param>
    /// <param name="adapter">The adapter.</param>
    /// <param name="scale">The user scale, on top of <see cref="LoraAdapter.Scaling"/>.</param>
    /// <param name="targetType">The type to write.</param>
    /// <param name="destination">At least <see cref="Quantizer.GetByteCount"/>(<paramref name="targetType"/>, rows × columns) bytes.</param>
    /// <param name="maxDegreeOfParallelism">The most threads the quantization uses; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong, the row length is not a multiple of a type's block size, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="NotSupportedException">A type cannot be converted row by row.</exception>
    public static void Merge(QuantType baseType, ReadOnlySpan<byte> baseWeights, LoraAdapter adapter, float scale, QuantType targetType,
                             Span<byte> destination, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        int columns = adapter.InputSize, rows = adapter.OutputSize;
        long inRowBytes = RowBytes(baseType, columns, nameof(baseType));
        long outRowBytes = RowBytes(targetType, columns, nameof(targetType));
        if (baseWeights.Length != inRowBytes * rows)
        {
            ThrowHelper.ThrowArgument(nameof(baseWeights), $"The base has {baseWeights.Length} bytes; {rows} rows of {inRowBytes} are needed.");
        }

        if (destination.Length < outRowBytes * rows)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination has {destination.Length} bytes; {outRowBytes * rows} are needed.");
        }

        int block = Math.Max(1, Math.Min(rows, BlockValues / columns));
        float[] floats = ArrayPool<float>.Shared.Rent(checked(block * columns));
        try
        {
            for (int first = 0; first < rows; first += block)
            {
                int count = Math.Min(block, rows - first);
                Span<float> merged = floats.AsSpan(0, count * columns);
                MergeRows(baseType, baseWeights.Slice((int)(first * inRowBytes), (int)(count * inRowBytes)), first, adapter, scale, merged);
                Quantizer.QuantizeParallel(targetType, merged, destination.Slice((int)(first * outRowBytes), (int)(count * outRowBytes)), columns,
                                           maxDegreeOfParallelism: maxDegreeOfParallelism);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
        }
    }

    /// <summary>
    /// Writes <paramref name="outputPath"/>: <paramref name="baseModel"/> with every adapter of
    /// <paramref name="adapters"/> merged into its tensor, those tensors quantized to <paramref name="targetType"/> and
    /// every other tensor copied byte for byte. The metadata and the tensor order are the base's. The file is written
    /// atomically (<see cref="GgufWriter.Create"/>).
    /// </summary>
    /// <param name="baseModel">The base model.</param>
    /// <param name="adapters">Adapters keyed by the base's tensor names.</param>
    /// <param name="outputPath">The file to write (replaced if it exists).</param>
    /// <param name="targetType">The type of the merged tensors.</param>
    /// <param name="scale">The user scale, on top of each adapter's <see cref="LoraAdapter.Scaling"/>.</param>
    /// <param name="maxDegreeOfParallelism">The most threads the quantization uses; −1 (the default) for one per processor.</param>
    /// <param name="logger">Receives one line per merged tensor.</param>
    /// <param name="cancellationToken">Stops between row blocks; no output file is left.</param>
    /// <returns>The number of merged tensors.</returns>
    /// <exception cref="InvalidDataException">An adapter names a tensor the base does not have, or its shape does not match.</exception>
    /// <exception cref="ArgumentException"><paramref name="targetType"/> cannot hold an adapted tensor's rows, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="NotSupportedException">A type cannot be converted row by row.</exception>
    public static int MergeGguf(GgufFile baseModel, LoraAdapterSet adapters, string outputPath, QuantType targetType, float scale = 1f,
                                int maxDegreeOfParallelism = -1, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(adapters);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!float.IsFinite(scale))
        {
            ThrowHelper.ThrowArgument(nameof(scale), $"The scale {scale} is not finite.");
        }

        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use a positive thread count, or -1 for one per processor.");
        }

        logger ??= NullLogger.Instance;
        foreach (KeyValuePair<string, LoraAdapter> pair in adapters)
        {
            if (!baseModel.TryGetTensor(pair.Key, out GgufTensorInfo? t))
            {
                throw new InvalidDataException($"The adapter updates '{pair.Key}', which the base model does not have (a different base model?).");
            }

            if (t.Dimensions.Count != 2 || t.Dimensions[0] != pair.Value.InputSize || t.Dimensions[1] != pair.Value.OutputSize)
            {
                throw new InvalidDataException($"'{pair.Key}' is [{t.ShapeText}] in the base; its adapter needs [{pair.Value.InputSize} x {pair.Value.OutputSize}].");
            }

            RowBytes(t.Type, pair.Value.InputSize, nameof(baseModel));
            RowBytes(targetType, pair.Value.InputSize, nameof(targetType));
        }

        using GgufWriter writer = GgufWriter.Create(outputPath);
        foreach (KeyValuePair<string, GgufValue> pair in baseModel.Metadata)
        {
            writer.SetMetadata(pair.Key, pair.Value);
        }

        foreach (GgufTensorInfo t in baseModel.Tensors)
        {
            writer.AddTensor(t.Name, adapters.ContainsKey(t.Name) ? targetType : t.Type, [.. t.Dimensions]);
        }

        int merged = 0;
        foreach (GgufTensorInfo t in baseModel.Tensors)
        {
            GgufTensorView view = baseModel.GetTensorView(t);
            if (adapters.TryGetValue(t.Name, out LoraAdapter? adapter))
            {
                MergeTensor(view, adapter, scale, targetType, writer, maxDegreeOfParallelism, cancellationToken);
                LoraLog.Merged(logger, t.Name, adapter.Rank, QuantFormat.Get(t.Type).Name, QuantFormat.Get(targetType).Name);
                merged++;
            }
            else
            {
                Models.ModelQuantizer.Copy(view, writer, cancellationToken);
            }
        }

        writer.Finish();
        return merged;
    }

    private static void MergeTensor(GgufTensorView view, LoraAdapter adapter, float scale, QuantType targetType, GgufWriter writer,
                                    int maxDegreeOfParallelism, CancellationToken cancellationToken)
    {
        int columns = adapter.InputSize, rows = adapter.OutputSize;
        long outRowBytes = RowBytes(targetType, columns, nameof(targetType));
        int block = (int)Math.Max(1, Math.Min(Math.Min(rows, BlockValues / columns), Math.Min(view.MaxRowsPerSpan, int.MaxValue / outRowBytes)));
        float[] floats = ArrayPool<float>.Shared.Rent(checked(block * columns));
        byte[] bytes = ArrayPool<byte>.Shared.Rent(checked((int)(block * outRowBytes)));
        try
        {
            for (int first = 0; first < rows; first += block)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(block, rows - first);
                Span<float> merged = floats.AsSpan(0, count * columns);
                Span<byte> quantized = bytes.AsSpan(0, (int)(count * outRowBytes));
                MergeRows(view.Type, view.GetRows(first, count), first, adapter, scale, merged);
                Quantizer.QuantizeParallel(targetType, merged, quantized, columns, maxDegreeOfParallelism: maxDegreeOfParallelism,
                                           cancellationToken: cancellationToken);
                writer.WriteTensorData(quantized);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static long RowBytes(QuantType type, int columns, string paramName)
    {
        QuantFormat format = QuantFormat.Get(type);
        if (format.TrailerBytes != 0)
        {
            throw new NotSupportedException($"{format.Name} keeps a per-tensor scale; it cannot be merged row block by row block.");
        }

        if (columns % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(paramName, $"Rows of {columns} values are not whole {format.Name} blocks of {format.BlockSize}.");
        }

        return (long)columns / format.BlockSize * format.BytesPerBlock;
    }
}
