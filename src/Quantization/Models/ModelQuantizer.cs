using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quantization.Formats;
using Quantization.Gguf;

namespace Quantization.Models;

/// <summary>
/// Quantizes a whole GGUF model by a <see cref="QuantizationRecipe"/>, writing the file llama.cpp's llama-quantize writes
/// for the same preset and options: the same tensor types, bytes, order, alignment and metadata. It streams: a tensor
/// is read from the memory map and quantized a slab of rows at a time, so memory stays bounded by the slab, not the model.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>Float values per slab of rows quantized at once (16 MiB of floats).</summary>
    private const int SlabValues = 1 << 22;

    /// <summary>Keys of a split model that a single output file does not keep.</summary>
    private static readonly string[] s_droppedKeys =
        ["split.no", "split.count", "split.tensors.count", GgufConstants.QuantizationVersionKey, GgufConstants.FileTypeKey];

    /// <summary>
    /// Quantizes <paramref name="input"/> into <paramref name="outputPath"/>. The file is written as
    /// <c>outputPath + ".tmp"</c> and renamed when complete; on failure or cancellation the partial file is deleted.
    /// </summary>
    /// <exception cref="ArgumentException">The output path is empty or a thread count is 0 or below −1.</exception>
    /// <exception cref="InvalidDataException">The model cannot be quantized as asked: importance data is required and missing
    /// (the message names the tensor), a tensor is already quantized, a row fits no type, or a value is not finite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ModelQuantizationResult Quantize(GgufFile input, string outputPath, QuantizationRecipe recipe,
                                                   ModelQuantizationOptions? options = null,
                                                   IProgress<ModelQuantizationProgress>? progress = null,
                                                   CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentNullException.ThrowIfNull(recipe);
        options ??= new ModelQuantizationOptions();
        if (options.Threads == 0 || options.Threads < -1)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"Threads must be positive or -1, not {options.Threads}.");
        }

        var clock = Stopwatch.StartNew();
        IReadOnlyDictionary<string, float[]>? importance = options.Importance;
        QuantizationPlan plan = recipe.CreatePlan(ModelDescription.FromGguf(input), importance is not null);
        float[]?[] rows = Validate(plan, importance);
        int threads = options.Threads == -1 ? Environment.ProcessorCount : options.Threads;
        ILogger logger = options.Logger ?? NullLogger.Instance;
        ModelLog.Started(logger, plan.Tensors.Count, plan.Tensors.Count(d => d.IsConverted), plan.SourceBytes, plan.Tensors.Sum(d => d.TargetBytes), threads);
        try
        {
            Write(input, outputPath, recipe, options, plan, rows, threads, logger, progress, cancellationToken);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidDataException)
        {
            ModelLog.Stopped(logger, outputPath, ex.Message);
            throw;
        }

        var result = new ModelQuantizationResult(plan, new FileInfo(outputPath).Length, clock.Elapsed);
        ModelLog.Finished(logger, outputPath, result.OutputBytes, result.Elapsed.TotalSeconds);
        return result;
    }

    private static void Write(GgufFile input, string outputPath, QuantizationRecipe recipe, ModelQuantizationOptions options, QuantizationPlan plan,
                              float[]?[] rows, int threads, ILogger logger, IProgress<ModelQuantizationProgress>? progress,
                              CancellationToken cancellationToken)
    {
        // GgufWriter.Create writes outputPath + ".tmp" and moves it into place on Finish; disposed unfinished (an
        // exception, a cancellation) it deletes the partial file.
        using (GgufWriter writer = GgufWriter.Create(outputPath))
        {
            WriteMetadata(writer, input, recipe, options.ImportanceSource);
            foreach (TensorDecision d in plan.Tensors)
            {
                writer.AddTensor(d.Tensor.Name, d.TargetType, [.. d.Tensor.Dimensions.Take(d.Tensor.Rank)]);
            }

            long total = plan.SourceBytes, done = 0;
            for (int i = 0; i < plan.Tensors.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                TensorDecision d = plan.Tensors[i];
                GgufTensorView view = input.GetTensorView(d.Tensor.Name);
                ModelLog.Tensor(logger, d.Tensor.Name, d.Tensor.Type, d.TargetType, d.Rule);
                if (d.IsConverted)
                {
                    Convert(view, d, rows[i], threads, writer, cancellationToken);
                }
                else
                {
                    Copy(view, writer, cancellationToken);
                }

                done += d.SourceBytes;
                progress?.Report(new ModelQuantizationProgress(i + 1, plan.Tensors.Count, done, total, d.Tensor.Name));
            }

            writer.Finish();
        }
    }

    /// <summary>Checks every conversion can run before anything is written; returns each tensor's importance (or null).</summary>
    private static float[]?[] Validate(QuantizationPlan plan, IReadOnlyDictionary<string, float[]>? importance)
    {
        if (importance is not null)
        {
            foreach (KeyValuePair<string, float[]> kv in importance)
            {
                if (kv.Value is null || kv.Value.Any(v => !float.IsFinite(v)))
                {
                    throw new InvalidDataException($"The importance of '{kv.Key}' is missing or holds a non-finite value.");
                }
            }
        }

        var rows = new float[]?[plan.Tensors.Count];
        for (int i = 0; i < rows.Length; i++)
        {
            TensorDecision d = plan.Tensors[i];
            ModelTensor t = d.Tensor;
            if (importance is null)
            {
                if (d.RequiresImportance)
                {
                    throw new InvalidDataException(
                        $"{recipeName(plan)} needs an importance matrix: tensor '{t.Name}' would be {QuantFormat.Get(d.TargetType).Name}, which llama.cpp does not write without one.");
                }

                continue;
            }

            if (!d.IsConverted)
            {
                continue;
            }

            if (importance.TryGetValue(t.Name, out float[]? values))
            {
                if (values.Length == t.RowLength * t.Slices)
                {
                    rows[i] = values;
                }
                else if (t.Name is not ("token_embd.weight" or "per_layer_token_embd.weight"))
                {
                    throw new InvalidDataException($"The importance of '{t.Name}' has {values.Length} values; the tensor needs {t.RowLength * t.Slices}.");
                }
            }

            if (rows[i] is null && d.RequiresImportance)
            {
                throw new InvalidDataException($"The importance matrix has no entry for tensor '{t.Name}', which {QuantFormat.Get(d.TargetType).Name} requires.");
            }
        }

        foreach (TensorDecision d in plan.Tensors)
        {
            if (d.IsConverted && FormatRegistry.TryGet(d.Tensor.Type)?.Family is not (FormatFamily.Float))
            {
                throw new InvalidDataException($"Tensor '{d.Tensor.Name}' is {QuantFormat.Get(d.Tensor.Type).Name}; requantizing is not supported, convert from F32, F16 or BF16.");
            }

            if (d.IsConverted && FormatRegistry.TryGet(d.TargetType) is not { Kernels: not null })
            {
                throw new InvalidDataException($"Tensor '{d.Tensor.Name}': this version cannot write {QuantFormat.Get(d.TargetType).Name}.");
            }
        }

        return rows;

        static string recipeName(QuantizationPlan p) => QuantizationPresets.GetName(p.Recipe.Preset);
    }

    private static void WriteMetadata(GgufWriter writer, GgufFile input, QuantizationRecipe recipe, ImportanceSource? source)
    {
        foreach (KeyValuePair<string, GgufValue> kv in input.Metadata)
        {
            if (Array.IndexOf(s_droppedKeys, kv.Key) < 0)
            {
                writer.SetMetadata(kv.Key, kv.Value);
            }
        }

        // llama.cpp removes and re-appends the keys it sets, so they come last, in this order.
        writer.SetMetadata(GgufConstants.QuantizationVersionKey, GgufValue.FromUInt32(GgufConstants.QuantizationVersion));
        writer.SetMetadata(GgufConstants.FileTypeKey, GgufValue.FromUInt32((uint)recipe.Preset));
        if (source is not null)
        {
            Append(writer, "quantize.imatrix.file", GgufValue.FromString(source.File));
            if (source.Dataset is not null)
            {
                Append(writer, "quantize.imatrix.dataset", GgufValue.FromString(source.Dataset));
            }

            Append(writer, "quantize.imatrix.entries_count", GgufValue.FromUInt32((uint)Math.Abs((long)source.EntryCount)));
            if (source.ChunkCount is int chunks)
            {
                Append(writer, "quantize.imatrix.chunks_count", GgufValue.FromUInt32((uint)Math.Abs((long)chunks)));
            }
        }
    }

    /// <summary>Sets a key at the end of the metadata, as <c>gguf_set_val_*</c> does (remove, then append).</summary>
    private static void Append(GgufWriter writer, string key, GgufValue value)
    {
        if (writer.Metadata.Any(kv => kv.Key == key))
        {
            throw new InvalidDataException($"The model already has '{key}'.");
        }

        writer.SetMetadata(key, value);
    }

    /// <summary>Writes a tensor's bytes unchanged, in chunks of about 64 MiB of whole rows.</summary>
    internal static void Copy(GgufTensorView view, GgufWriter writer, CancellationToken cancellationToken)
    {
        if (view.Rows == 0 || view.RowByteCount == 0)
        {
            return;
        }

        int rowsPerChunk = Math.Max(1, Math.Min(view.MaxRowsPerSpan, (int)Math.Max(1, (64L << 20) / view.RowByteCount)));
        for (long row = 0; row < view.Rows; row += rowsPerChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            writer.WriteTensorData(view.GetRows(row, (int)Math.Min(rowsPerChunk, view.Rows - row)));
        }
    }

    /// <summary>Quantizes a tensor slab by slab; each 2-D slice of a 3-D tensor (one expert) with its own importance row.</summary>
    private static void Convert(GgufTensorView view, TensorDecision decision, float[]? importance, int threads, GgufWriter writer,
                                CancellationToken cancellationToken)
    {
        QuantType target = decision.TargetType;
        int rowLength = checked((int)view.Columns);
        long rowsPerSlice = decision.Tensor.Dimensions.Count > 1 ? decision.Tensor.Dimensions[1] : 1;
        long slices = view.Rows / Math.Max(1, rowsPerSlice);
        int rowsPerSlab = (int)Math.Max(1, Math.Min(rowsPerSlice, SlabValues / rowLength));
        long outRowBytes = Quantizer.GetByteCount(target, rowLength);
        float[] floats = ArrayPool<float>.Shared.Rent(checked(rowsPerSlab * rowLength));
        byte[] bytes = ArrayPool<byte>.Shared.Rent(checked((int)(rowsPerSlab * outRowBytes)));
        try
        {
            for (long slice = 0; slice < slices; slice++)
            {
                ReadOnlySpan<float> sliceImportance = importance is null ? default : importance.AsSpan(checked((int)(slice * rowLength)), rowLength);
                for (long row = 0; row < rowsPerSlice; row += rowsPerSlab)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int count = (int)Math.Min(rowsPerSlab, rowsPerSlice - row);
                    ReadOnlySpan<byte> source = view.GetRows(slice * rowsPerSlice + row, count);
                    Span<float> values = floats.AsSpan(0, count * rowLength);
                    if (view.Type == QuantType.F32)
                    {
                        MemoryMarshal.Cast<byte, float>(source).CopyTo(values);
                    }
                    else
                    {
                        Quantizer.Dequantize(view.Type, source, values);
                    }

                    Span<byte> destination = bytes.AsSpan(0, (int)(count * outRowBytes));
                    try
                    {
                        Quantizer.QuantizeParallel(target, values, destination, rowLength, sliceImportance, threads);
                    }
                    catch (ArgumentException ex)
                    {
                        throw new InvalidDataException($"Tensor '{decision.Tensor.Name}' cannot be quantized to {QuantFormat.Get(target).Name}: {ex.Message}", ex);
                    }
                    catch (AggregateException ex) when (ex.Flatten().InnerExceptions.OfType<ArgumentException>().FirstOrDefault() is { } inner)
                    {
                        throw new InvalidDataException($"Tensor '{decision.Tensor.Name}' cannot be quantized to {QuantFormat.Get(target).Name}: {inner.Message}", ex);
                    }

                    writer.WriteTensorData(destination);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
