using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Quantization.Cli.Gguf;
using Quantization.Formats;
using Quantization.Checkpoints;
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
    private const int SlabValues = SlabQuantizer.SlabValues;

    /// <summary>What happens to one tensor: <paramref name="Layer"/> names a quantized checkpoint layer it is rebuilt from.</summary>
    private readonly record struct Step(string Name, QuantType Type, bool Quantize, long[] Dimensions, CheckpointLayer? Layer = null);

    /// <summary>A GPTQ / AWQ / bitsandbytes / FP8 layer: its tensors become one float matrix, <c>&lt;prefix&gt;.weight</c>.</summary>
    private sealed record CheckpointLayer(string Prefix, string Kind, string[] Tensors);

    public static ConversionResult Convert(SafeTensorsCheckpoint input, string outputPath, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance,
                                           int threads, ILogger logger, Action<long, long>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        // GPTQ / AWQ layers share one configuration file beside the checkpoint: read once, when the first layer needs it.
        var groupIntConfig = new Lazy<object?>(() => GroupIntConfig(input));
        Step[] plan = Plan(input, target, importance, groupIntConfig);
        long inputBytes = 0;
        using (GgufWriter writer = GgufWriter.Create(outputPath))
        {
            // The index's metadata first, then each shard's keys not seen yet, each group by key.
            var written = new HashSet<string>(StringComparer.Ordinal);
            IEnumerable<KeyValuePair<string, string>> groups = input.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Concat(input.ShardFiles.SelectMany(shard => input.GetShard(shard).Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)));
            foreach ((string key, string value) in groups)
            {
                if (written.Add(key))
                {
                    writer.SetMetadata("safetensors." + key, GgufValue.FromString(value));
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
                if (step.Layer is { } layer)
                {
                    long layerBytes = layer.Tensors.Sum(n => input.GetTensorView(n).ByteCount);
                    inputBytes += layerBytes;
                    WriteLayer(input, layer, groupIntConfig, step, target, importance?.GetValueOrDefault(step.Name), threads, writer, logger);
                    progress?.Invoke(i + 1, layerBytes);
                    continue;
                }

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
    private static Step[] Plan(SafeTensorsCheckpoint input, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance, Lazy<object?> groupIntConfig)
    {
        Dictionary<string, CheckpointLayer> layers = FindLayers(input);
        var consumed = new HashSet<string>(layers.Values.SelectMany(l => l.Tensors), StringComparer.Ordinal);
        var plan = new List<Step>();
        foreach (string name in input.TensorNames.Concat(layers.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            if (layers.TryGetValue(name, out CheckpointLayer? layer))
            {
                // Opened here as well as when written: every layer is checked before the first byte is written.
                IWeightMatrix opened = OpenLayer(input, layer, groupIntConfig);
                (int rows, int columns) = (opened.Rows, opened.Columns);
                bool fits = columns % target.BlockSize == 0;
                CheckImportance(name, columns, fits, target, importance);
                plan.Add(new Step(name, fits ? target.Type : QuantType.F32, fits, [columns, rows], layer));
                continue;
            }

            if (consumed.Contains(name))
            {
                continue;
            }

            SafeTensorsTensorInfo t = input.GetTensorView(name).Info;
            long[] dimensions = t.Shape.Count == 0 ? [1] : [.. t.Shape.Reverse()]; // GGUF lists the fastest-varying dimension first
            bool quantize = t.Shape.Count == 2 && IsFloat(t.DType) && t.Columns > 0 && t.Columns % target.BlockSize == 0 && t.Columns <= SlabValues;
            if (quantize)
            {
                CheckImportance(name, (int)t.Columns, true, target, importance);
                plan.Add(new Step(name, target.Type, true, dimensions));
            }
            else
            {
                QuantType copy = CopyType(t.DType)
                    ?? throw new InvalidDataException($"Tensor '{name}' is {t.DTypeName}, which a GGUF file cannot hold; it is not a floating-point matrix this convert quantizes.");
                plan.Add(new Step(name, copy, false, dimensions));
            }
        }

        return [.. plan];
    }

    private static void CheckImportance(string name, int columns, bool quantized, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance)
    {
        if (!quantized)
        {
            return;
        }

        if (importance?.TryGetValue(name, out float[]? values) == true && values.Length != columns)
        {
            throw new InvalidDataException($"The imatrix entry for '{name}' has {values.Length} values; the tensor's rows have {columns}.");
        }

        if (FormatRegistry.TryGet(target.Type)?.Importance == ImportanceUse.Required && importance?.ContainsKey(name) != true)
        {
            throw new InvalidDataException($"{target.Name} needs an importance matrix entry for every quantized tensor; there is none for '{name}'.");
        }
    }

    /// <summary>
    /// The quantized layers of the checkpoint by output name (<c>&lt;prefix&gt;.weight</c>): GPTQ / AWQ (<c>qweight</c>,
    /// <c>qzeros</c>, <c>scales</c>, optional <c>g_idx</c>), bitsandbytes 4-bit (<c>weight</c> with its
    /// <c>quant_state</c> companions) and FP8 (<c>weight</c> with <c>weight_scale_inv</c> or <c>weight_scale</c>).
    /// </summary>
    private static Dictionary<string, CheckpointLayer> FindLayers(SafeTensorsCheckpoint input)
    {
        var names = new HashSet<string>(input.TensorNames, StringComparer.Ordinal);
        var layers = new Dictionary<string, CheckpointLayer>(StringComparer.Ordinal);
        foreach (string name in input.TensorNames)
        {
            if (name.EndsWith(".qweight", StringComparison.Ordinal))
            {
                string prefix = name[..^".qweight".Length];
                if (names.Contains(prefix + ".qzeros") && names.Contains(prefix + ".scales"))
                {
                    string[] parts = [name, prefix + ".qzeros", prefix + ".scales", .. names.Contains(prefix + ".g_idx") ? [prefix + ".g_idx"] : Array.Empty<string>()];
                    layers[prefix + ".weight"] = new CheckpointLayer(prefix, "int", parts);
                }
            }
            else if (name.EndsWith(".weight", StringComparison.Ordinal))
            {
                string prefix = name[..^".weight".Length];
                if (names.Contains(name + ".quant_state.bitsandbytes__nf4") || names.Contains(name + ".quant_state.bitsandbytes__fp4"))
                {
                    string[] parts = [name, .. names.Where(n => n.StartsWith(name + ".", StringComparison.Ordinal))];
                    layers[name] = new CheckpointLayer(prefix, "bnb", parts);
                }
                else if (input.GetTensorView(name).DType is SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2
                         && (names.Contains(prefix + ".weight_scale_inv") || names.Contains(prefix + ".weight_scale")))
                {
                    string scale = names.Contains(prefix + ".weight_scale_inv") ? prefix + ".weight_scale_inv" : prefix + ".weight_scale";
                    layers[name] = new CheckpointLayer(prefix, "fp8", [name, scale]);
                }
            }
        }

        return layers;
    }

    /// <summary>Opens a layer as its matrix (GPTQ or AWQ by the configuration beside the checkpoint).</summary>
    private static IWeightMatrix OpenLayer(SafeTensorsCheckpoint input, CheckpointLayer layer, Lazy<object?> groupIntConfig) => layer.Kind switch
    {
        "bnb" => CheckpointLayers.OpenBitsAndBytes4Bit(input, layer.Prefix),
        "fp8" => CheckpointLayers.OpenFp8(input, layer.Prefix),
        _ => groupIntConfig.Value switch
        {
            GptqConfig gptq => CheckpointLayers.OpenGptq(input, layer.Prefix, gptq),
            AwqConfig awq => CheckpointLayers.OpenAwq(input, layer.Prefix, awq),
            _ => throw new InvalidDataException($"Layer '{layer.Prefix}' is GPTQ or AWQ; neither quantize_config.json nor config.json with a quantization_config lies beside the checkpoint."),
        },
    };

    /// <summary>quantize_config.json (GPTQ) or config.json's quantization_config (GPTQ or AWQ by its quant_method).</summary>
    private static object? GroupIntConfig(SafeTensorsCheckpoint input)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(input.Source)) ?? ".";
        string quantizeConfig = Path.Combine(directory, "quantize_config.json");
        if (File.Exists(quantizeConfig))
        {
            return GptqConfig.Parse(File.ReadAllBytes(quantizeConfig));
        }

        string config = Path.Combine(directory, "config.json");
        if (!File.Exists(config))
        {
            return null;
        }

        byte[] json = File.ReadAllBytes(config);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        string? method = document.RootElement.TryGetProperty("quantization_config", out var q) && q.TryGetProperty("quant_method", out var m) ? m.GetString() : null;
        return method switch
        {
            "gptq" => GptqConfig.Parse(json),
            "awq" => AwqConfig.Parse(json),
            _ => null,
        };
    }

    /// <summary>Dequantizes a layer, writes it in the target type (or F32 when its rows fit no block) and logs the round trip's error.</summary>
    private static void WriteLayer(SafeTensorsCheckpoint input, CheckpointLayer layer, Lazy<object?> groupIntConfig, Step step, QuantFormat target, float[]? importance, int threads,
                                   GgufWriter writer, ILogger logger)
    {
        IWeightMatrix matrix = OpenLayer(input, layer, groupIntConfig);
        float[] values = new float[checked(matrix.Rows * matrix.Columns)];
        switch (matrix)
        {
            case GptqMatrix g: g.Dequantize(values); break;
            case AwqMatrix a: a.Dequantize(values); break;
            case BitsAndBytes4BitMatrix b: b.Dequantize(values); break;
            case Fp8WeightMatrix f: f.Dequantize(values); break;
        }

        if (!step.Quantize)
        {
            writer.WriteTensorData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            logger.LogInformation("{Layer}: {Kind} layer written as F32 (rows of {Columns} fit no {Type} block)", layer.Prefix, layer.Kind, matrix.Columns, target.Name);
            return;
        }

        byte[] bytes = new byte[Quantizer.GetByteCount(target.Type, values.Length)];
        Quantizer.QuantizeParallel(target.Type, values, bytes, matrix.Columns, importance, threads);
        writer.WriteTensorData(bytes);
        float[] back = new float[values.Length];
        Quantizer.Dequantize(target.Type, bytes, back);
        double error = 0, energy = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double d = values[i] - back[i];
            error += d * d;
            energy += (double)values[i] * values[i];
        }

        logger.LogInformation("{Layer}: {Kind} layer to {Type}, relative RMS error {Error:0.0000} against the checkpoint's values",
            layer.Prefix, layer.Kind, target.Name, energy == 0 ? 0 : Math.Sqrt(error / energy));
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

    private static void Quantize(SafeTensorsTensorView view, QuantFormat target, float[]? importance, int threads, GgufWriter writer) =>
        SlabQuantizer.Write(view.Rows, (int)view.Columns, view.GetRowsAsSingle, target, importance, threads, writer, view.Info.Name);

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
