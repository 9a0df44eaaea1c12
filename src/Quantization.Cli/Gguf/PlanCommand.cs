using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quantization.Models;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quantization.Cli.Gguf;

/// <summary>
/// <c>quant plan --memory 32GB</c>: which model size at which llama.cpp preset to run in a memory budget, ranked by
/// quality (<see cref="QuantizationQuality"/>), with the key/value cache of the context counted.
/// </summary>
internal static partial class PlanCommand
{
    public static Command Create(TextWriter output, TextWriter error, IAnsiConsole console)
    {
        var memory = new Option<string>("--memory", "-m")
        {
            Description = "Memory available for the model (RAM or VRAM), e.g. 32GB, 24GiB, 512MB.",
            Required = true,
        };
        var headroom = new Option<double>("--headroom")
        {
            Description = "Fraction of the memory kept free for activations, compute buffers and the rest of the system.",
            DefaultValueFactory = _ => 0.2,
        };
        var context = new Option<int>("--context")
        {
            Description = "Tokens of context the key/value cache holds.",
            DefaultValueFactory = _ => 8192,
        };
        var kvType = new Option<string>("--kv-type")
        {
            Description = "Key/value cache type: f16 (llama.cpp's default), q8_0, q4_0, ...",
            DefaultValueFactory = _ => "f16",
        };
        Option<string> format = QuantCommandLine.FormatOption();
        var command = new Command("plan",
            "Recommend the largest model size and the best llama.cpp preset that fit a memory budget with the key/value cache, " +
            "ranked by quality (published perplexity increases, measured round-trip error), then every preset per model size.")
        {
            memory, headroom, context, kvType, format,
        };
        command.SetAction(parse =>
        {
            string text = parse.GetValue(memory)!;
            double reserve = parse.GetValue(headroom);
            int tokens = parse.GetValue(context);
            string kvName = parse.GetValue(kvType)!;
            if (ParseBytes(text) is not double bytes || bytes < 1 || bytes > long.MaxValue / 2)
            {
                error.WriteLine($"quant: error: --memory '{text}' is not a size such as 32GB, 24GiB or 512MB.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (!(reserve >= 0 && reserve < 1))
            {
                error.WriteLine($"quant: error: --headroom must be in [0, 1), not {reserve.ToString(CultureInfo.InvariantCulture)}.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (tokens <= 0)
            {
                error.WriteLine($"quant: error: --context must be positive, not {tokens}.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (!QuantFormat.TryParse(kvName, out QuantFormat? cache) || !KvCacheBytes.IsSupported(cache.Type))
            {
                error.WriteLine($"quant: error: --kv-type '{kvName}' is no key/value cache type (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl).");
                return QuantCommandLine.ExitBadArguments;
            }

            var options = new AdvisorOptions((long)bytes) { Headroom = reserve, ContextLength = tokens, KvCacheType = cache.Type };
            if (parse.GetValue(format) == "json")
            {
                output.WriteLine(JsonSerializer.Serialize(PlanDocument.Create(options), PlanJsonContext.Default.PlanDocument));
            }
            else
            {
                console.Write(Build(options));
            }

            return QuantCommandLine.ExitSuccess;
        });
        return command;
    }

    /// <summary>Parses "32GB" (10⁹), "24GiB" (2³⁰), "512MB", "1.5TB", or a plain number of bytes.</summary>
    public static double? ParseBytes(string text)
    {
        Match m = SizePattern().Match(text.Trim());
        if (!m.Success || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            return null;
        }

        double unit = m.Groups[2].Value.ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" => 1e3,
            "M" or "MB" => 1e6,
            "G" or "GB" => 1e9,
            "T" or "TB" => 1e12,
            "KIB" => 1L << 10,
            "MIB" => 1L << 20,
            "GIB" => 1L << 30,
            "TIB" => 1L << 40,
            _ => double.NaN,
        };
        return double.IsNaN(unit) ? null : value * unit;
    }

    /// <summary>
    /// The recommendations (with the advice in words), then per model size the presets on the quality frontier: each
    /// row better than every smaller file, so a legacy preset a K-quant beats at equal or smaller size is not shown.
    /// </summary>
    public static Rows Build(AdvisorOptions options)
    {
        string kvName = QuantFormat.Get(options.KvCacheType).Name;
        var parts = new List<IRenderable>
        {
            new Text(string.Create(CultureInfo.InvariantCulture,
                $"Memory: {Gigabytes(options.MemoryBytes)} GB, {options.Headroom * 100:0.#}% headroom: {Gigabytes(options.UsableBytes)} GB for weights and KV cache.\n" +
                $"KV cache: {options.ContextLength} tokens in {kvName}.\n")),
        };

        IReadOnlyList<ModelSizeRecommendation> picks = QuantizationAdvisor.Recommend(options);
        if (picks.Count == 0)
        {
            parts.Add(new Text("Nothing fits: not even the smallest model size at the smallest preset.\n"));
        }
        else
        {
            ModelSizeRecommendation first = picks[0];
            parts.Add(new Text(string.Create(CultureInfo.InvariantCulture,
                $"Advice: {first.Model.Name} ({first.Model.Representative}) at {QuantizationPresets.GetName(first.Preset)} ({first.TierLabel}),\n" +
                $"  {Gigabytes(first.WeightBytes)} GB weights + {Gigabytes(first.KvCacheBytes)} GB KV cache = {Gigabytes(first.TotalBytes)} GB.\n")));
            var table = new Table().Border(TableBorder.Rounded).Title("Recommendations, largest model first (GB = 10^9 bytes)");
            table.AddColumn("Model");
            table.AddColumn("Preset");
            table.AddColumn(new TableColumn("Weights").RightAligned());
            table.AddColumn(new TableColumn("KV").RightAligned());
            table.AddColumn(new TableColumn("Total").RightAligned());
            table.AddColumn(new TableColumn("+ppl").RightAligned());
            table.AddColumn("Tier");
            var warnings = new List<string>();
            foreach (ModelSizeRecommendation r in picks)
            {
                table.AddRow(
                    Markup.Escape(r.Model.Name),
                    Markup.Escape(QuantizationPresets.GetName(r.Preset)),
                    Gigabytes(r.WeightBytes), Gigabytes(r.KvCacheBytes), Gigabytes(r.TotalBytes),
                    Delta(r),
                    Markup.Escape(r.TierLabel));
                if (r.Warning is { } warning)
                {
                    warnings.Add($"Warning: {r.Model.Name} at {QuantizationPresets.GetName(r.Preset)}: {warning}" +
                                 (r.RequiresImportance ? "; needs an importance matrix." : "."));
                }
            }

            parts.Add(table);
            foreach (string warning in warnings)
            {
                parts.Add(new Text(warning));
            }
        }

        parts.Add(new Text(
            "\n+ppl: llama-quantize's published perplexity increase on Llama-3-8B;\n~ marks an estimate from the measured round-trip error.\n"));
        foreach (CommonModel model in CommonModel.All.OrderByDescending(m => m.ParameterCount))
        {
            IReadOnlyList<ModelSizeRecommendation> rows = QuantizationAdvisor.Evaluate(model, options);
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"{model.Name} ({model.Representative}, {model.ParameterCount / 1e9:0.0}B parameters): KV cache {Gigabytes(rows[0].KvCacheBytes)}, sizes in GB")));
            table.AddColumn("Preset");
            table.AddColumn("Tier");
            table.AddColumn(new TableColumn("+ppl").RightAligned());
            table.AddColumn(new TableColumn("Bits/w").RightAligned());
            table.AddColumn(new TableColumn("Weights").RightAligned());
            table.AddColumn(new TableColumn("Total").RightAligned());
            table.AddColumn("Fits");
            foreach (ModelSizeRecommendation r in Frontier(rows))
            {
                table.AddRow(
                    Markup.Escape(QuantizationPresets.GetName(r.Preset)),
                    Markup.Escape(r.TierLabel),
                    Delta(r),
                    r.BitsPerWeight.ToString("0.00", CultureInfo.InvariantCulture),
                    Gigabytes(r.WeightBytes), Gigabytes(r.TotalBytes),
                    r.Fits ? "yes" : "no");
            }

            parts.Add(table);
        }

        return new Rows(parts);
    }

    /// <summary>The rows (best quality first) whose weights are smaller than those of every better row.</summary>
    public static IEnumerable<ModelSizeRecommendation> Frontier(IReadOnlyList<ModelSizeRecommendation> rows)
    {
        long smallest = long.MaxValue;
        foreach (ModelSizeRecommendation r in rows)
        {
            if (r.WeightBytes < smallest)
            {
                smallest = r.WeightBytes;
                yield return r;
            }
        }
    }

    private static string Delta(ModelSizeRecommendation r) =>
        (r.IsEstimated ? "~" : "") + r.PerplexityDelta.ToString(r.PerplexityDelta < 1 ? "0.000" : "0.00", CultureInfo.InvariantCulture);

    private static string Gigabytes(double bytes) => (bytes / 1e9).ToString("0.0#", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$")]
    private static partial Regex SizePattern();
}
