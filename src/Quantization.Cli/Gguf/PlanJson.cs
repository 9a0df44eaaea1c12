using System.Text.Json.Serialization;
using Quantization.Cli.Report;
using Quantization.Models;

namespace Quantization.Cli.Gguf;

/// <summary>The JSON document <c>quant plan --format json</c> writes; sizes in bytes.</summary>
/// <param name="MemoryBytes">The memory given.</param>
/// <param name="Headroom">The fraction kept free.</param>
/// <param name="UsableBytes">The bytes left for weights and key/value cache.</param>
/// <param name="ContextLength">Tokens of context.</param>
/// <param name="KvCacheType">The key/value cache type (ggml's name).</param>
/// <param name="Recommendations">The advisor's picks, the advice first (<see cref="QuantizationAdvisor.Recommend"/>).</param>
/// <param name="Models">Per model size, largest first: every candidate preset, best quality first.</param>
internal sealed record PlanDocument(double MemoryBytes, double Headroom, double UsableBytes, int ContextLength, string KvCacheType,
                                    IReadOnlyList<PlanChoice> Recommendations, IReadOnlyList<PlanModel> Models)
{
    /// <summary>The document for <paramref name="options"/>.</summary>
    public static PlanDocument Create(AdvisorOptions options) => new(
        options.MemoryBytes, options.Headroom, options.UsableBytes, options.ContextLength, QuantFormat.Get(options.KvCacheType).Name,
        [.. QuantizationAdvisor.Recommend(options).Select(PlanChoice.From)],
        [.. CommonModel.All.OrderByDescending(m => m.ParameterCount).Select(m =>
        {
            IReadOnlyList<ModelSizeRecommendation> rows = QuantizationAdvisor.Evaluate(m, options);
            return new PlanModel(m.Name, m.Representative, m.ParameterCount, rows[0].KvCacheBytes, [.. rows.Select(PlanChoice.From)]);
        })]);
}

/// <summary>One model size.</summary>
/// <param name="Model">The size, e.g. "8B".</param>
/// <param name="Representative">The model whose dimensions stand for it.</param>
/// <param name="Parameters">Its parameter count.</param>
/// <param name="KvCacheBytes">Its key/value cache at the document's context and cache type.</param>
/// <param name="Presets">Every candidate preset on it, best quality first.</param>
internal sealed record PlanModel(string Model, string Representative, long Parameters, long KvCacheBytes, IReadOnlyList<PlanChoice> Presets);

/// <summary>One model size at one preset.</summary>
/// <param name="Model">The size, e.g. "8B".</param>
/// <param name="Preset">The preset, e.g. "Q4_K_M".</param>
/// <param name="Tier">near-lossless, recommended default, visible loss or experimental.</param>
/// <param name="Warning">The tier's warning; null for none.</param>
/// <param name="PerplexityDelta">The perplexity increase the preset is ranked by.</param>
/// <param name="PerplexityDeltaEstimated">Whether that is an estimate (no published number).</param>
/// <param name="BitsPerWeight">Bits per weight of the file.</param>
/// <param name="WeightsBytes">Tensor bytes of the file.</param>
/// <param name="KvCacheBytes">Key/value cache bytes.</param>
/// <param name="TotalBytes">Weights plus cache.</param>
/// <param name="Fits">Whether the total fits the usable memory.</param>
/// <param name="RequiresImportance">Whether the file needs an importance matrix.</param>
internal sealed record PlanChoice(string Model, string Preset, string Tier, string? Warning, double PerplexityDelta, bool PerplexityDeltaEstimated,
                                  double BitsPerWeight, long WeightsBytes, long KvCacheBytes, long TotalBytes, bool Fits, bool RequiresImportance)
{
    /// <summary>Converts an advisor row (every number is finite: strict JSON).</summary>
    public static PlanChoice From(ModelSizeRecommendation r) => new(
        r.Model.Name, QuantizationPresets.GetName(r.Preset), r.TierLabel, r.Warning,
        ReportDocument.Finite(r.PerplexityDelta) ?? throw new InvalidOperationException("A perplexity increase is not finite."),
        r.IsEstimated, r.BitsPerWeight, r.WeightBytes, r.KvCacheBytes, r.TotalBytes, r.Fits, r.RequiresImportance);
}

/// <summary>Source-generated (reflection-free, trim- and AOT-safe) serializer for the plan document.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(PlanDocument))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
