using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Quantization.Cli.Gguf;
using Quantization.Gguf;
using Quantization.Lora;
using Quantization.SafeTensors;

namespace Quantization.Cli.Lora;

/// <summary>
/// <c>quant merge-lora BASE ADAPTER OUT --type T [--scale S] [--threads N]</c>: folds a llama.cpp GGUF LoRA adapter
/// into its base model. Adapted tensors are dequantized, updated and quantized to T; every other tensor and all the
/// metadata are copied unchanged.
/// </summary>
internal static class MergeLoraCommand
{
    public static Command Create(TextWriter error)
    {
        var baseModel = new Argument<FileInfo>("BASE") { Description = "The base model (GGUF, any types)." };
        var adapter = new Argument<FileSystemInfo>("ADAPTER") { Description = "The LoRA adapter: GGUF (general.type = adapter, adapter.type = lora), or a PEFT adapter (its folder, adapter_config.json or adapter_model.safetensors)." };
        var output = new Argument<FileInfo>("OUT") { Description = "The merged model to write (replaced if it exists)." };
        var type = new Option<string>("--type", "-t") { Description = "The ggml type of the merged tensors (q4_K, q8_0, f16, ...).", Required = true };
        var scale = new Option<float>("--scale")
        {
            Description = "The user scale of the adapter, applied on top of alpha / rank (llama.cpp's --lora-scaled).",
            DefaultValueFactory = _ => 1f,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for quantization (-1: one per processor).",
            DefaultValueFactory = _ => -1,
        };

        var command = new Command("merge-lora",
            "Merge a GGUF LoRA adapter into its base model: adapted tensors become dequant(W) + scale·(alpha/r)·B·A, quantized to --type; everything else is copied byte for byte.")
        {
            baseModel, adapter, output, type, scale, threads,
        };
        command.SetAction(parse =>
        {
            FileInfo basePath = parse.GetValue(baseModel)!, outPath = parse.GetValue(output)!;
            FileSystemInfo adapterPath = parse.GetValue(adapter)!;
            string typeName = parse.GetValue(type)!;
            float userScale = parse.GetValue(scale);
            int threadCount = parse.GetValue(threads);
            if (threadCount == 0 || threadCount < -1)
            {
                return Fail(error, $"--threads must be positive or -1, not {threadCount}.");
            }

            if (!float.IsFinite(userScale))
            {
                return Fail(error, $"--scale must be a finite number, not {userScale}.");
            }

            if (!QuantFormat.TryParse(typeName, out QuantFormat? target) || !(ModelConverter.IsSupportedTarget(target) || target.Type is QuantType.F32))
            {
                string types = string.Join(", ", QuantFormat.All.Where(f => ModelConverter.IsSupportedTarget(f) || f.Type is QuantType.F32).Select(f => f.Name));
                return Fail(error, $"unsupported type '{typeName}'; types: {types}.");
            }

            foreach (FileSystemInfo f in (FileSystemInfo[])[basePath, adapterPath])
            {
                if (!f.Exists)
                {
                    return Fail(error, $"file not found: {f.FullName}");
                }
            }

            if (string.Equals(basePath.FullName, outPath.FullName, StringComparison.Ordinal) || string.Equals(adapterPath.FullName, outPath.FullName, StringComparison.Ordinal))
            {
                return Fail(error, "OUT must differ from BASE and ADAPTER.");
            }

            var logger = new ConsoleLogger(error, LogLevel.Information);
            try
            {
                var clock = Stopwatch.StartNew();
                using GgufFile model = GgufFile.Open(basePath.FullName);
                LoraAdapterSet adapters;
                if (PeftFiles(adapterPath) is ({ } config, { } weights))
                {
                    // A PEFT adapter: Hugging Face module names, renamed (and llama's Q/K rows reordered) for the GGUF base.
                    using SafeTensorsFile tensors = SafeTensorsFile.Open(weights);
                    adapters = GgufLoraNames.ToGguf(LoraAdapterSet.FromPeft(PeftLoraConfig.Load(config), new SafeTensorsLoraTensorSource(tensors)), model);
                }
                else
                {
                    using GgufFile adapterFile = GgufFile.Open(adapterPath.FullName);
                    adapters = LoraAdapterSet.FromGguf(adapterFile);
                }

                if (adapters.Architecture is { } arch && model.TryGetValue(GgufConstants.ArchitectureKey, out GgufValue? baseArch)
                    && baseArch.Type == GgufValueType.String && baseArch.AsString() != arch)
                {
                    return Fail(error, $"the adapter is for '{arch}' but the base model is '{baseArch.AsString()}'.", QuantCommandLine.ExitRuntimeError);
                }

                int merged = LoraMerge.MergeGguf(model, adapters, outPath.FullName, target.Type, userScale, threadCount, logger);
                logger.LogInformation("Wrote {Path}: {Merged} tensors merged into {Type}, {Copied} copied, in {Seconds:0.00} s",
                    outPath.Name, merged, target.Name, model.Tensors.Count - merged, clock.Elapsed.TotalSeconds);
                return QuantCommandLine.ExitSuccess;
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException or NotSupportedException)
            {
                return Fail(error, ex.Message, QuantCommandLine.ExitRuntimeError);
            }
        });
        return command;
    }

    /// <summary>
    /// adapter_config.json and adapter_model.safetensors of a PEFT adapter given as its folder or either file; nulls
    /// for anything else (a GGUF adapter).
    /// </summary>
    private static (string? Config, string? Weights) PeftFiles(FileSystemInfo adapter)
    {
        string? folder = adapter is DirectoryInfo d ? d.FullName
            : adapter.Name is "adapter_config.json" || adapter.Name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(adapter.FullName)
            : null;
        if (folder is null)
        {
            return (null, null);
        }

        string config = Path.Combine(folder, "adapter_config.json");
        string weights = adapter.Name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? adapter.FullName : Path.Combine(folder, "adapter_model.safetensors");
        return File.Exists(config) && File.Exists(weights)
            ? (config, weights)
            : throw new InvalidDataException($"A PEFT adapter needs adapter_config.json and adapter_model.safetensors in '{folder}'.");
    }

    private static int Fail(TextWriter error, string message, int code = QuantCommandLine.ExitBadArguments)
    {
        error.WriteLine($"quant: error: {message}");
        return code;
    }
}
