using System.Globalization;
using Quantization.Models;
using Spectre.Console;

namespace Quantization.Cli.Gguf;

/// <summary>
/// llama.cpp's presets on the LLaMA 7B / 13B / 34B / 70B shapes: bits per weight and file size computed from each
/// preset's per-tensor rules on those shapes (not from the default type alone), the sizes of the files people download.
/// </summary>
internal static class PresetSizes
{
    /// <summary>The shapes, by name.</summary>
    public static IReadOnlyList<(string Name, ModelDescription Model)> Shapes { get; } =
    [
        ("7B", ModelDescription.Llama7B), ("13B", ModelDescription.Llama13B), ("34B", ModelDescription.Llama34B), ("70B", ModelDescription.Llama70B),
    ];

    /// <summary>The plan of <paramref name="preset"/> on <paramref name="model"/>; with importance where the preset needs it (as such files are made).</summary>
    public static QuantizationPlan Plan(QuantizationPreset preset, ModelDescription model)
    {
        var recipe = new QuantizationRecipe(preset);
        QuantizationPlan plan = recipe.CreatePlan(model);
        return plan.RequiresImportance ? recipe.CreatePlan(model, hasImportance: true) : plan;
    }

    /// <summary>Every preset with its size on each shape, largest bits per weight first.</summary>
    public static IReadOnlyList<(QuantizationPreset Preset, QuantizationPlan[] Plans)> All() =>
    [
        .. QuantizationPresets.All
            .Select(p => (p, Shapes.Select(s => Plan(p, s.Model)).ToArray()))
            .OrderByDescending(x => x.Item2[0].BitsPerWeight),
    ];

    public static Table Table(IReadOnlyList<(QuantizationPreset Preset, QuantizationPlan[] Plans)> presets)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title("llama.cpp presets on LLaMA shapes: bits/weight, GB (10^9 bytes)");
        table.AddColumn("Preset");
        foreach ((string name, _) in Shapes)
        {
            table.AddColumn(new TableColumn(name).RightAligned());
        }

        table.AddColumn("imatrix");
        foreach ((QuantizationPreset preset, QuantizationPlan[] plans) in presets)
        {
            var cells = new List<string> { Markup.Escape(QuantizationPresets.GetName(preset)) };
            foreach (QuantizationPlan plan in plans)
            {
                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{plan.BitsPerWeight:0.00}, {plan.TargetBytes / 1e9:0.00}"));
            }

            cells.Add(plans[0].RequiresImportance ? "needed" : "");
            table.AddRow([.. cells]);
        }

        return table;
    }
}
