using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Quantization.Gguf;
using Quantization.Models;
using Quantization.SafeTensors;
using Spectre.Console;

namespace Quantization.Cli.Gguf;

/// <summary>
/// <c>quant convert IN OUT --type PRESET|TYPE [--imatrix F] [--output-tensor-type T] [--token-embedding-type T]
/// [--leave-output-tensor] [--pure] [--tensor-type PATTERN=T ...] [--threads N] [--dry-run]</c>.
/// A llama.cpp preset (Q4_K_M, IQ2_M, ...) writes the file llama-quantize writes; a ggml type that is no preset
/// (q4_K, mxfp4, ...) converts every 2-D float matrix to that one type.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter error, IAnsiConsole console)
    {
        var input = new Argument<FileInfo>("IN") { Description = "The GGUF model to convert (F32 / F16 / BF16 weights), or a safetensors checkpoint (a .safetensors file or model.safetensors.index.json) to convert to one type." };
        var output = new Argument<FileInfo>("OUT") { Description = "The GGUF file to write (replaced if it exists)." };
        var type = new Option<string>("--type", "-t")
        {
            Description = "A llama.cpp preset (Q4_K_M, Q5_K_M, Q3_K_M, Q2_K, Q8_0, IQ4_XS, IQ2_M, MXFP4_MOE, ...), or a ggml type that is no preset (q4_K, mxfp4, ...) for every 2-D matrix.",
            Required = true,
        };
        var imatrix = new Option<FileInfo?>("--imatrix")
        {
            Description = "llama.cpp importance matrix: GGUF (<name>.in_sum2 / <name>.counts tensors) or the legacy .dat format.",
        };
        var outputType = new Option<string?>("--output-tensor-type") { Description = "Type of output.weight (presets only)." };
        var embeddingType = new Option<string?>("--token-embedding-type") { Description = "Type of token_embd.weight (presets only)." };
        var leaveOutput = new Option<bool>("--leave-output-tensor") { Description = "Copy output.weight unchanged (presets only)." };
        var pure = new Option<bool>("--pure") { Description = "The preset's default type for every tensor, without its per-tensor rules." };
        var tensorTypes = new Option<string[]>("--tensor-type")
        {
            Description = "PATTERN=TYPE: the type of tensors whose name matches the regular expression (first match wins; presets only).",
            AllowMultipleArgumentsPerToken = false,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for quantization (-1: one per processor).",
            DefaultValueFactory = _ => -1,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the per-tensor plan and the resulting size; write nothing." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every tensor as the input is loaded." };

        var command = new Command("convert",
            "Quantize a GGUF model by a llama.cpp preset (the same file llama-quantize writes), or every 2-D F32/F16/BF16 matrix to one ggml type.")
        {
            input, output, type, imatrix, outputType, embeddingType, leaveOutput, pure, tensorTypes, threads, dryRun, verbose,
        };
        command.SetAction(parse =>
        {
            FileInfo inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!;
            string typeName = parse.GetValue(type)!;
            FileInfo? imatrixPath = parse.GetValue(imatrix);
            int threadCount = parse.GetValue(threads);
            if (threadCount == 0 || threadCount < -1)
            {
                return Fail(error, $"--threads must be positive or -1, not {threadCount}.");
            }

            foreach (FileInfo? f in (FileInfo?[])[inPath, imatrixPath])
            {
                if (f is { Exists: false })
                {
                    return Fail(error, $"file not found: {f.FullName}");
                }
            }

            if (string.Equals(inPath.FullName, outPath.FullName, StringComparison.Ordinal))
            {
                return Fail(error, "IN and OUT are the same file.");
            }

            QuantizationRecipe? recipe = null;
            QuantFormat? single = null;
            bool presetOptions = parse.GetValue(outputType) is not null || parse.GetValue(embeddingType) is not null || parse.GetValue(leaveOutput)
                                 || parse.GetValue(pure) || parse.GetValue(tensorTypes) is { Length: > 0 } || parse.GetValue(dryRun);
            if (QuantizationPresets.TryParse(typeName, out QuantizationPreset? preset))
            {
                if (!TryParseRecipe(preset.Value, parse.GetValue(outputType), parse.GetValue(embeddingType), parse.GetValue(leaveOutput),
                                    parse.GetValue(pure), parse.GetValue(tensorTypes) ?? [], error, out recipe))
                {
                    return QuantCommandLine.ExitBadArguments;
                }
            }
            else if (!QuantFormat.TryParse(typeName, out single) || !ModelConverter.IsSupportedTarget(single))
            {
                string presets = string.Join(", ", QuantizationPresets.All.Select(QuantizationPresets.GetName));
                string types = string.Join(", ", QuantFormat.All.Where(ModelConverter.IsSupportedTarget).Select(f => f.Name));
                return Fail(error, $"unsupported type '{typeName}'; presets: {presets}; single types: {types}.");
            }
            else if (presetOptions)
            {
                return Fail(error, $"'{typeName}' is a single type, not a preset: --output-tensor-type, --token-embedding-type, --leave-output-tensor, --pure, --tensor-type and --dry-run go with a preset.");
            }

            var logger = new ConsoleLogger(error, parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            try
            {
                ImatrixData? imatrix = imatrixPath is null ? null : ImatrixFile.Load(imatrixPath.FullName);
                Dictionary<string, float[]>? importance = imatrix?.Importance;
                if (imatrix is not null)
                {
                    logger.LogInformation("Loaded importance for {Count} weights from {Path} (data set {Dataset}, {Chunks} chunks)",
                        imatrix.Importance.Count, imatrixPath!.Name, imatrix.Dataset ?? "not named", imatrix.ChunkCount);
                }

                if (SafeTensors.SafeTensorsInspect.Handles(inPath.FullName))
                {
                    // A Hugging Face checkpoint keeps its own tensor names: llama.cpp's presets decide by GGUF names.
                    // Names such as q8_0 are a preset and a type: here they mean the type.
                    if (recipe is not null && (presetOptions || !QuantFormat.TryParse(typeName, out single) || !ModelConverter.IsSupportedTarget(single)))
                    {
                        return Fail(error, $"'{typeName}' is a llama.cpp preset, whose rules need GGUF tensor names; a safetensors checkpoint converts to one type (q8_0, q4_K, ...) without preset options.");
                    }

                    using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(inPath.FullName);
                    SafeTensors.SafeTensorsConverter.Convert(checkpoint, outPath.FullName, single!, importance, threadCount, logger);
                    return QuantCommandLine.ExitSuccess;
                }

                using GgufFile model = GgufFile.Open(inPath.FullName, logger);
                if (recipe is null)
                {
                    RunSingleType(model, outPath.FullName, single!, importance, threadCount, logger, console);
                    return QuantCommandLine.ExitSuccess;
                }

                QuantizationPlan plan = recipe.CreatePlan(ModelDescription.FromGguf(model), importance is not null);
                if (parse.GetValue(dryRun))
                {
                    console.Write(PlanTable(plan));
                    console.WriteLine(Summary(plan));
                    if (plan.RequiresImportance && importance is null)
                    {
                        console.WriteLine("Writing this file requires an importance matrix (--imatrix).");
                    }

                    return QuantCommandLine.ExitSuccess;
                }

                if (importance is null && plan.Tensors.FirstOrDefault(t => t.RequiresImportance) is { } needs)
                {
                    return Fail(error, $"{QuantizationPresets.GetName(recipe.Preset)} needs an importance matrix: tensor '{needs.Tensor.Name}' would be "
                                       + $"{QuantFormat.Get(needs.TargetType).Name}, which llama.cpp does not write without one; pass one with --imatrix.",
                                QuantCommandLine.ExitRuntimeError);
                }

                var options = new ModelQuantizationOptions
                {
                    Threads = threadCount,
                    Importance = importance,
                    ImportanceSource = imatrix?.ToSource(imatrixPath!.ToString()),
                };
                ModelQuantizationResult result = RunPreset(model, outPath.FullName, recipe, options, logger, console);
                logger.LogInformation("Wrote {Preset}: {Quantized} tensors converted, {Copied} copied; {InputBytes:N0} -> {OutputBytes:N0} bytes, {Bpw:0.00} bits per weight, in {Seconds:0.00} s",
                    QuantizationPresets.GetName(recipe.Preset), result.Plan.Tensors.Count(t => t.IsConverted), result.Plan.Tensors.Count(t => !t.IsConverted),
                    model.FileSize, result.OutputBytes, result.Plan.BitsPerWeight, result.Elapsed.TotalSeconds);
                return QuantCommandLine.ExitSuccess;
            }
            catch (InvalidDataException ex)
            {
                return Fail(error, ex.Message, QuantCommandLine.ExitRuntimeError);
            }
            catch (OperationCanceledException)
            {
                return Fail(error, $"cancelled; {outPath.Name}.tmp removed.", QuantCommandLine.ExitRuntimeError);
            }
        });
        return command;
    }

    private static int Fail(TextWriter error, string message, int code = QuantCommandLine.ExitBadArguments)
    {
        error.WriteLine($"quant: error: {message}");
        return code;
    }

    private static bool TryParseRecipe(QuantizationPreset preset, string? outputType, string? embeddingType, bool leaveOutput, bool pure,
                                       string[] tensorTypes, TextWriter error, out QuantizationRecipe? recipe)
    {
        recipe = null;
        QuantType? output = null, embedding = null;
        if (outputType is not null)
        {
            if (!TryParseType(outputType, out QuantType t))
            {
                Fail(error, $"--output-tensor-type: unknown type '{outputType}'.");
                return false;
            }

            output = t;
        }

        if (embeddingType is not null)
        {
            if (!TryParseType(embeddingType, out QuantType t))
            {
                Fail(error, $"--token-embedding-type: unknown type '{embeddingType}'.");
                return false;
            }

            embedding = t;
        }

        var overrides = new List<TensorTypeOverride>();
        foreach (string spec in tensorTypes)
        {
            int eq = spec.LastIndexOf('=');
            if (eq <= 0 || !TryParseType(spec[(eq + 1)..], out QuantType t))
            {
                Fail(error, $"--tensor-type '{spec}' is not PATTERN=TYPE with a ggml type.");
                return false;
            }

            try
            {
                _ = new System.Text.RegularExpressions.Regex(spec[..eq]);
            }
            catch (ArgumentException ex)
            {
                Fail(error, $"--tensor-type '{spec}': {ex.Message}");
                return false;
            }

            overrides.Add(new TensorTypeOverride(spec[..eq], t));
        }

        recipe = new QuantizationRecipe(preset)
        {
            OutputTensorType = output,
            TokenEmbeddingType = embedding,
            LeaveOutputTensor = leaveOutput,
            Pure = pure,
            TensorTypes = overrides,
        };
        return true;
    }

    private static bool TryParseType(string name, out QuantType type)
    {
        bool ok = QuantFormat.TryParse(name, out QuantFormat? f) && f.IsGgmlType && (ModelConverter.IsSupportedTarget(f) || f.Type is QuantType.F32);
        type = ok ? f!.Type : default;
        return ok;
    }

    /// <summary>The <c>--dry-run</c> table: one row per tensor in output order.</summary>
    internal static Table PlanTable(QuantizationPlan plan)
    {
        var table = new Table().Border(TableBorder.Simple)
            .Title(Markup.Escape($"{QuantizationPresets.GetName(plan.Recipe.Preset)} plan for a {plan.Model.Architecture} model of {plan.Model.LayerCount} layers"));
        table.AddColumn("Tensor");
        table.AddColumn(new TableColumn("Shape").RightAligned());
        table.AddColumn("From");
        table.AddColumn("To");
        table.AddColumn("Rule");
        foreach (TensorDecision d in plan.Tensors)
        {
            table.AddRow(
                Markup.Escape(d.Tensor.Name),
                Markup.Escape(string.Join(" x ", d.Tensor.Dimensions)),
                Markup.Escape(QuantFormat.Get(d.Tensor.Type).Name),
                Markup.Escape(d.IsConverted ? QuantFormat.Get(d.TargetType).Name : "="),
                Markup.Escape(d.Rule + (d.RequiresImportance ? " [needs imatrix]" : "")));
        }

        return table;
    }

    internal static string Summary(QuantizationPlan plan)
    {
        string fallbacks = plan.FallbackCount > 0 ? $"; {plan.FallbackCount} fallbacks for rows that do not fit" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{plan.Tensors.Count} tensors, {plan.Tensors.Count(t => t.IsConverted)} converted; {plan.SourceBytes / 1048576.0:0.00} MiB -> {plan.TargetBytes / 1048576.0:0.00} MiB, {plan.BitsPerWeight:0.00} bits per weight{fallbacks}.");
    }

    private static ModelQuantizationResult RunPreset(GgufFile model, string outPath, QuantizationRecipe recipe, ModelQuantizationOptions options,
                                                     ILogger logger, IAnsiConsole console)
    {
        // Ctrl-C cancels the conversion (the partial file is deleted) instead of killing the process.
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (!console.Profile.Capabilities.Interactive)
            {
                // Redirected output: a log line every few seconds instead of a bar.
                var clock = Stopwatch.StartNew();
                TimeSpan next = TimeSpan.FromSeconds(5);
                var progress = new SynchronousProgress(p =>
                {
                    if (clock.Elapsed >= next || p.TensorsDone == p.TensorCount)
                    {
                        next = clock.Elapsed + TimeSpan.FromSeconds(5);
                        logger.LogInformation("[{Done}/{Count}] {Percent:0.0}% of {TotalMiB:0.0} MiB, {Tensor}",
                            p.TensorsDone, p.TensorCount, 100.0 * p.BytesDone / Math.Max(1, p.TotalBytes), p.TotalBytes / 1048576.0, p.Tensor);
                    }
                });
                return ModelQuantizer.Quantize(model, outPath, recipe, options, progress, cts.Token);
            }

            ModelQuantizationResult? result = null;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    ProgressTask tensors = context.AddTask("Tensors", maxValue: Math.Max(1, model.Tensors.Count));
                    ProgressTask bytes = context.AddTask("Bytes", maxValue: Math.Max(1, model.Tensors.Sum(t => t.ByteCount)));
                    var progress = new SynchronousProgress(p =>
                    {
                        tensors.Value = p.TensorsDone;
                        bytes.Value = p.BytesDone;
                    });
                    result = ModelQuantizer.Quantize(model, outPath, recipe, options, progress, cts.Token);
                });
            return result!;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Reports on the quantizing thread (<see cref="Progress{T}"/> would post to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress(Action<ModelQuantizationProgress> report) : IProgress<ModelQuantizationProgress>
    {
        public void Report(ModelQuantizationProgress value) => report(value);
    }

    private static void RunSingleType(GgufFile model, string outPath, QuantFormat target, Dictionary<string, float[]>? importance, int threads,
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
