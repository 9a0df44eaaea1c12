using System.CommandLine;
using Microsoft.Extensions.Logging;
using Quantization.Gguf;
using Spectre.Console;

namespace Quantization.Cli.Gguf;

/// <summary><c>quant convert IN OUT --type T [--imatrix FILE] [--threads N]</c>.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter error, IAnsiConsole console)
    {
        var input = new Argument<FileInfo>("IN") { Description = "The GGUF model to convert (F32 / F16 / BF16 weights)." };
        var output = new Argument<FileInfo>("OUT") { Description = "The GGUF file to write (replaced if it exists)." };
        var type = new Option<string>("--type", "-t")
        {
            Description = "Target type of the 2-D weights, e.g. q4_K, q8_0, iq4_xs.",
            Required = true,
        };
        var imatrix = new Option<FileInfo?>("--imatrix")
        {
            Description = "llama.cpp importance matrix: GGUF (<name>.in_sum2 / <name>.counts tensors) or the legacy .dat format.",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for quantization (-1: one per processor).",
            DefaultValueFactory = _ => -1,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every tensor as the input is loaded." };

        var command = new Command("convert",
            "Quantize every 2-D F32/F16/BF16 tensor of a GGUF model whose rows fit the target's blocks (bytes identical to " +
            "ggml_quantize_chunk); copy every other tensor and all metadata unchanged.")
        {
            input, output, type, imatrix, threads, verbose,
        };
        command.SetAction(parse =>
        {
            FileInfo inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!;
            string typeName = parse.GetValue(type)!;
            FileInfo? imatrixPath = parse.GetValue(imatrix);
            int threadCount = parse.GetValue(threads);
            if (!QuantFormat.TryParse(typeName, out QuantFormat? target) || !ModelConverter.IsSupportedTarget(target))
            {
                string supported = string.Join(", ", QuantFormat.All.Where(ModelConverter.IsSupportedTarget).Select(f => f.Name));
                error.WriteLine($"quant: error: unsupported type '{typeName}'; supported: {supported}.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (threadCount == 0 || threadCount < -1)
            {
                error.WriteLine($"quant: error: --threads must be positive or -1, not {threadCount}.");
                return QuantCommandLine.ExitBadArguments;
            }

            foreach (FileInfo? f in (FileInfo?[])[inPath, imatrixPath])
            {
                if (f is { Exists: false })
                {
                    error.WriteLine($"quant: error: file not found: {f.FullName}");
                    return QuantCommandLine.ExitBadArguments;
                }
            }

            if (string.Equals(inPath.FullName, outPath.FullName, StringComparison.Ordinal))
            {
                error.WriteLine("quant: error: IN and OUT are the same file.");
                return QuantCommandLine.ExitBadArguments;
            }

            var logger = new ConsoleLogger(error, parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            try
            {
                Dictionary<string, float[]>? importance = imatrixPath is null ? null : ImatrixFile.Load(imatrixPath.FullName);
                if (importance is not null)
                {
                    logger.LogInformation("Loaded importance for {Count} weights from {Path}", importance.Count, imatrixPath!.Name);
                }

                using GgufFile model = GgufFile.Open(inPath.FullName, logger);
                Run(model, outPath.FullName, target, importance, threadCount, logger, console);
                return QuantCommandLine.ExitSuccess;
            }
            catch (InvalidDataException ex)
            {
                error.WriteLine($"quant: error: {ex.Message}");
                return QuantCommandLine.ExitRuntimeError;
            }
        });
        return command;
    }

    private static void Run(GgufFile model, string outPath, QuantFormat target, Dictionary<string, float[]>? importance, int threads,
                            ILogger logger, IAnsiConsole console)
    {
        long totalBytes = model.Tensors.Sum(t => t.ByteCount);
        if (!console.Profile.Capabilities.Interactive)
        {
            ModelConverter.Convert(model, outPath, target, importance, threads, logger);
            return;
        }

        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask tensors = context.AddTask("Tensors", maxValue: Math.Max(1, model.Tensors.Count));
                ProgressTask bytes = context.AddTask("Bytes", maxValue: Math.Max(1, totalBytes));
                ModelConverter.Convert(model, outPath, target, importance, threads, logger, (done, tensorBytes) =>
                {
                    tensors.Value = done;
                    bytes.Increment(tensorBytes);
                });
            });
    }
}
