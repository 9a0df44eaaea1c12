using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Quantization.Cli.Gguf;
using Quantization.Formats;
using Quantization.Gguf;
using Quantization.SafeTensors;

namespace Quantization.Cli.SafeTensors;

/// <summary>
/// Converts a safetensors checkpoint (one file or a sharded index) to GGUF, tensor by tensor under its own name: every
/// 2-D floating-point tensor whose rows are a whole number of the target's blocks is quantized (the bytes of
/// <see cref="Quantizer.Quantize(QuantType, ReadOnlySpan{float}, Span{byte}, int, ReadOnlySpan{float})"/> for its
/// float values), every other tensor is copied in the GGUF type of its dtype (F8 and F64 values as F32). The
/// checkpoint's <c>__metadata__</c> becomes <c>safetensors.&lt;key&gt;</c> strings; naming the architecture and adding
/// the tokenizer stay llama.cpp's converter's job. Everything is checked before the first byte is written.
/// </summary>
internal static class SafeTensorsConverter
{
    /// <summary>Float values per slab of rows read and quantized at once (16 MiB of floats).</summary>
    private const int SlabValues = 1 << 22;

    /// <summary>What happens to one tensor.</summary>
    private readonly record struct Step(string Name, QuantType Type, bool Quantize, long[] Dimensions);

    public static ConversionResult Convert(SafeTensorsCheckpoint input, string outputPath, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance,
                                           int threads, ILogger logger, Action<long, long>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        Step[] plan = Plan(input, target, importance);
        long inputBytes = 0;
        using (GgufWriter writer = GgufWriter.Create(outputPath))
        {
            foreach ((string key, string value) in input.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                writer.SetMetadata("safetensors." + key, GgufValue.FromString(value));
            }

            foreach (string shard in input.ShardFiles)
            {
                foreach ((string key, string value) in input.GetShard(shard).Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (!writer.Metadata.Any(kv => kv.Key == "safetensors." + key))
                    {
                        writer.SetMetadata("safetensors." + key, GgufValue.FromString(value));
                    }
                }
            }

            writer.SetMetadata(GgufConstants.QuantizationVersionKey, GgufValue.FromUInt32(GgufConstants.QuantizationVersion));
            writer.SetMetadata(GgufConstants.FileTypeKey, GgufValue.FromUInt32(ModelConverter.FileType(target.Type)));
            foreach (Step step in plan)
            {
                writer.AddTensor(step.Name, step.Type, step.Dimensions);
            }

            for (int i = 0; i < plan.Length; i++)
            {
                Step step = plan[i];
                SafeTensorsTensorView view = input.GetTensorView(step.Name);
                inputBytes += view.ByteCount;
                if (step.Quantize)
                {
                    Quantize(view, target, importance?.GetValueOrDefault(step.Name), threads, writer);
                }
                else
                {
                    Copy(view, step.Type, writer);
                }

                progress?.Invoke(i + 1, view.ByteCount);
            }

            writer.Finish();
        }

        long outputBytes = new FileInfo(outputPath).Length;
        int quantized = plan.Count(s => s.Quantize);
        var result = new ConversionResult(quantized, plan.Length - quantized, inputBytes, outputBytes, clock.Elapsed);
        logger.LogInformation("Converted to {Type}: {Quantized} tensors quantized, {Copied} copied; {InputBytes:N0} -> {OutputBytes:N0} bytes in {Seconds:0.00} s",
            target.Name, result.Quantized, result.Copied, inputBytes, outputBytes, result.Elapsed.TotalSeconds);
        return result;
    }

    /// <summary>Every tensor's fate, in name order; refuses what GGUF cannot hold before anything is written.</summary>
    private static Step[] Plan(SafeTensorsCheckpoint input, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance)
    {
        var plan = new Step[input.TensorNames.Count];
        for (int i = 0; i < plan.Length; i++)
        {
            string name = input.TensorNames[i];
            SafeTensorsTensorInfo t = input.GetTensorView(name).Info;
            long[] dimensions = t.Shape.Count == 0 ? [1] : [.. t.Shape.Reverse()]; // GGUF lists the fastest-varying dimension first
            bool quantize = t.Shape.Count == 2 && IsFloat(t.DType) && t.Columns > 0 && t.Columns % target.BlockSize == 0 && t.Columns <= SlabValues;
            if (quantize)
            {
                if (importance?.TryGetValue(name, out float[]? values) == true && values.Length != t.Columns)
                {
                    throw new InvalidDataException($"The imatrix entry for '{name}' has {values.Length} values; the tensor's rows have {t.Columns}.");
                }

                if (FormatRegistry.TryGet(target.Type)?.Importance == ImportanceUse.Required && importance?.ContainsKey(name) != true)
                {
                    throw new InvalidDataException($"{target.Name} needs an importance matrix entry for every quantized tensor; there is none for '{name}'.");
                }

                plan[i] = new Step(name, target.Type, true, dimensions);
            }
            else
            {
                QuantType copy = CopyType(t.DType)
                    ?? throw new InvalidDataException($"Tensor '{name}' is {t.DTypeName}, which a GGUF file cannot hold; it is not a floating-point matrix this convert quantizes.");
                plan[i] = new Step(name, copy, false, dimensions);
            }
        }

        return plan;
    }

    private static bool IsFloat(SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64 or SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2;

    /// <summary>The GGUF type a copied tensor is written in: its own where GGUF has it, F32 for the other float dtypes read here.</summary>
    private static QuantType? CopyType(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F32 => QuantType.F32,
        SafeTensorsDType.F16 => QuantType.F16,
        SafeTensorsDType.BF16 => QuantType.BF16,
        SafeTensorsDType.F64 => QuantType.F64,
        SafeTensorsDType.I8 => QuantType.I8,
        SafeTensorsDType.I16 => QuantType.I16,
        SafeTensorsDType.I32 => QuantType.I32,
        SafeTensorsDType.I64 => QuantType.I64,
        SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2 => QuantType.F32,
        _ => null,
    };

    private static void Quantize(SafeTensorsTensorView view, QuantFormat target, float[]? importance, int threads, GgufWriter writer)
    {
        int rowLength = (int)view.Columns;
        int rowsPerSlab = Math.Max(1, SlabValues / rowLength);
        long outRowBytes = rowLength / target.BlockSize * (long)target.BytesPerBlock;
        float[] floats = ArrayPool<float>.Shared.Rent(rowsPerSlab * rowLength);
        byte[] bytes = ArrayPool<byte>.Shared.Rent((int)(rowsPerSlab * outRowBytes));
        try
        {
            for (long row = 0; row < view.Rows; row += rowsPerSlab)
            {
                int rows = (int)Math.Min(rowsPerSlab, view.Rows - row);
                Span<float> values = floats.AsSpan(0, rows * rowLength);
                view.GetRowsAsSingle(row, rows, values);
                Span<byte> destination = bytes.AsSpan(0, (int)(rows * outRowBytes));
                try
                {
                    Quantizer.QuantizeParallel(target.Type, values, destination, rowLength, importance, threads);
                }
                catch (ArgumentException ex)
                {
                    throw new InvalidDataException($"Tensor '{view.Info.Name}' cannot be quantized: {ex.Message}", ex);
                }

                writer.WriteTensorData(destination);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static void Copy(SafeTensorsTensorView view, QuantType type, GgufWriter writer)
    {
        bool widen = type == QuantType.F32 && view.DType != SafeTensorsDType.F32;
        int rowsPerChunk = Math.Max(1, (int)Math.Min(view.MaxRowsPerSpan, SlabValues / Math.Max(1, view.Columns)));
        float[]? floats = widen ? ArrayPool<float>.Shared.Rent((int)(rowsPerChunk * view.Columns)) : null;
        try
        {
            for (long row = 0; row < view.Rows; row += rowsPerChunk)
            {
                int rows = (int)Math.Min(rowsPerChunk, view.Rows - row);
                if (floats is null)
                {
                    writer.WriteTensorData(view.GetRows(row, rows));
                }
                else
                {
                    Span<float> values = floats.AsSpan(0, (int)(rows * view.Columns));
                    view.GetRowsAsSingle(row, rows, values);
                    writer.WriteTensorData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
                }
            }
        }
        finally
        {
            if (floats is not null)
            {
                ArrayPool<float>.Shared.Return(floats);
            }
        }
    }
}
