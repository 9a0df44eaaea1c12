using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Quantization.Cli.Report;
using Quantization.Models;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quantization.Cli.Gguf;

/// <summary><c>quant plan --memory 32GB</c>: which model sizes fit in a memory budget at which quantization tiers.</summary>
internal static partial class PlanCommand
{
    /// <summary>Common model sizes, in billions of parameters.</summary>
    private static readonly double[] s_modelBillions = [0.5, 1, 3, 7, 8, 13, 14, 27, 32, 70, 123, 405];

    public static Command Create(TextWriter output, TextWriter error, IAnsiConsole console)
    {
        var memory = new Option<string>("--memory", "-m")
        {
            Description = "Memory available for the model, e.g. 32GB, 24GiB, 512MB.",
            Required = true,
        };
        var headroom = new Option<double>("--headroom")
        {
            Description = "Fraction of the memory kept free for the KV cache, activations and the rest of the system.",
            DefaultValueFactory = _ => 0.2,
        };
        Option<string> format = QuantCommandLine.FormatOption();
        var command = new Command("plan", "Show which model sizes fit in a memory budget at each weight format (weights only, plus headroom).")
        {
            memory, headroom, format,
        };
        command.SetAction(parse =>
        {
            string text = parse.GetValue(memory)!;
            double reserve = parse.GetValue(headroom);
            if (ParseBytes(text) is not double bytes || bytes <= 0)
            {
                error.WriteLine($"quant: error: --memory '{text}' is not a size such as 32GB, 24GiB or 512MB.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (!(reserve >= 0 && reserve < 1))
            {
                error.WriteLine($"quant: error: --headroom must be in [0, 1), not {reserve.ToString(CultureInfo.InvariantCulture)}.");
                return QuantCommandLine.ExitBadArguments;
            }

            if (parse.GetValue(format) == "json")
            {
                output.WriteLine(JsonSerializer.Serialize(BuildDocument(bytes, reserve), PlanJsonContext.Default.PlanDocument));
            }
            else
            {
                console.Write(Build(bytes, reserve));
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
    /// Two tables: per weight format, the most parameters that fit and the largest common model size that does; per
    /// common model size, the format with the most bits per weight that fits and its size.
    /// </summary>
    public static Rows Build(double memoryBytes, double headroom)
    {
        double usable = memoryBytes * (1 - headroom);
        // F32 is no storage tier for weights: tiers start at 16 bits.
        QuantFormat[] formats = [.. QualityReport.WeightFormats().Where(f => f.Type != QuantType.F32)];
        string title = $"{Gigabytes(memoryBytes)} GB with {(headroom * 100).ToString("0.#", CultureInfo.InvariantCulture)}% headroom: {Gigabytes(usable)} GB for weights";

        var byFormat = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        byFormat.AddColumn("Format");
        byFormat.AddColumn(new TableColumn("Bits/w").RightAligned());
        byFormat.AddColumn(new TableColumn("Max params").RightAligned());
        byFormat.AddColumn(new TableColumn("Largest common size").RightAligned());
        foreach (QuantFormat f in formats)
        {
            double maxBillions = usable * 8 / f.BitsPerWeight / 1e9;
            double[] fitting = [.. s_modelBillions.Where(b => b <= maxBillions)];
            byFormat.AddRow(
                Markup.Escape(f.Name),
                f.BitsPerWeight.ToString("0.####", CultureInfo.InvariantCulture),
                Markup.Escape(maxBillions.ToString("0.0", CultureInfo.InvariantCulture) + "B"),
                Markup.Escape(fitting.Length == 0 ? "none" : Billions(fitting[^1])));
        }

        var byModel = new Table().Border(TableBorder.Rounded).Title("Best format per model size (GB = 10^9 bytes of weights)");
        byModel.AddColumn("Model");
        byModel.AddColumn("Best format");
        byModel.AddColumn(new TableColumn("Weights GB").RightAligned());
        foreach (double billions in s_modelBillions)
        {
            QuantFormat? best = formats.FirstOrDefault(f => billions * 1e9 * f.BitsPerWeight / 8 <= usable);
            byModel.AddRow(
                Markup.Escape(Billions(billions)),
                Markup.Escape(best?.Name ?? "does not fit"),
                best is null ? "-" : Gigabytes(billions * 1e9 * best.BitsPerWeight / 8));
        }

        var presets = PresetSizes.All();
        return new Rows(byFormat, byModel, PresetSizes.BestFit(presets, usable), PresetSizes.Table(presets));
    }

    /// <summary>The same content as <see cref="Build"/>, as data: sizes in bytes, model sizes in billions of parameters.</summary>
    public static PlanDocument BuildDocument(double memoryBytes, double headroom)
    {
        double usable = memoryBytes * (1 - headroom);
        QuantFormat[] formats = [.. QualityReport.WeightFormats().Where(f => f.Type != QuantType.F32)];
        return new PlanDocument(
            memoryBytes, headroom, usable,
            [.. formats.Select(f =>
            {
                double maxBillions = usable * 8 / f.BitsPerWeight / 1e9;
                double[] fitting = [.. s_modelBillions.Where(b => b <= maxBillions)];
                return new PlanFormat(f.Name, f.BitsPerWeight, maxBillions, fitting.Length == 0 ? null : fitting[^1]);
            })],
            [.. s_modelBillions.Select(billions =>
            {
                QuantFormat? best = formats.FirstOrDefault(f => billions * 1e9 * f.BitsPerWeight / 8 <= usable);
                return new PlanModel(billions, best?.Name, best is null ? null : billions * 1e9 * best.BitsPerWeight / 8);
            })],
            [.. PresetSizes.All().Select(p => new PlanPreset(
                QuantizationPresets.GetName(p.Preset),
                [.. p.Plans.Select((plan, i) => new PlanPresetSize(PresetSizes.Shapes[i].Name, plan.BitsPerWeight, plan.TargetBytes, plan.TargetBytes <= usable))]))]);
    }

    private static string Billions(double billions) => billions.ToString(CultureInfo.InvariantCulture) + "B";

    private static string Gigabytes(double bytes) => (bytes / 1e9).ToString("0.#", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$")]
    private static partial Regex SizePattern();
}

/// <summary>The JSON document <c>quant plan --format json</c> writes.</summary>
/// <param name="MemoryBytes">The memory given.</param>
/// <param name="Headroom">The fraction kept free.</param>
/// <param name="UsableBytes">The bytes left for weights.</param>
/// <param name="Formats">Per weight format: the most parameters that fit and the largest common model size that does.</param>
/// <param name="Models">Per common model size: the format with the most bits per weight that fits.</param>
/// <param name="Presets">Per llama.cpp preset: its size on the LLaMA shapes, from its rules.</param>
internal sealed record PlanDocument(double MemoryBytes, double Headroom, double UsableBytes, IReadOnlyList<PlanFormat> Formats,
                                    IReadOnlyList<PlanModel> Models, IReadOnlyList<PlanPreset> Presets);

/// <summary>One weight format.</summary>
/// <param name="Format">ggml's name.</param>
/// <param name="BitsPerWeight">Bits per weight.</param>
/// <param name="MaxBillions">The most parameters (billions) that fit.</param>
/// <param name="LargestCommonBillions">The largest common model size that fits; null for none.</param>
internal sealed record PlanFormat(string Format, double BitsPerWeight, double MaxBillions, double? LargestCommonBillions);

/// <summary>One common model size.</summary>
/// <param name="Billions">Parameters, in billions.</param>
/// <param name="BestFormat">The format with the most bits per weight that fits; null when none does.</param>
/// <param name="WeightsBytes">Its weights' size; null when none fits.</param>
internal sealed record PlanModel(double Billions, string? BestFormat, double? WeightsBytes);

/// <summary>One preset.</summary>
/// <param name="Preset">Its name (e.g. <c>Q4_K_M</c>).</param>
/// <param name="Sizes">Its size on each LLaMA shape.</param>
internal sealed record PlanPreset(string Preset, IReadOnlyList<PlanPresetSize> Sizes);

/// <summary>A preset on one shape.</summary>
/// <param name="Shape">The shape (7B, 13B, 34B, 70B).</param>
/// <param name="BitsPerWeight">Bits per weight of the whole file.</param>
/// <param name="Bytes">Tensor bytes of the file.</param>
/// <param name="Fits">Whether it fits the usable memory.</param>
internal sealed record PlanPresetSize(string Shape, double BitsPerWeight, long Bytes, bool Fits);

/// <summary>Source-generated (reflection-free, trim- and AOT-safe) serializer for the plan document.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(PlanDocument))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
