namespace Quantization.Models;

/// <summary>One model size at one preset on a machine: what it costs in memory and in quality, and whether it fits.</summary>
/// <param name="Model">The model size.</param>
/// <param name="Preset">The llama.cpp preset.</param>
/// <param name="WeightBytes">Tensor bytes of the file, from the preset's per-tensor plan on the model's shape.</param>
/// <param name="BitsPerWeight">Bits per weight of that plan.</param>
/// <param name="KvCacheBytes">The key/value cache at the options' context and cache type.</param>
/// <param name="Fits">Whether weights and cache fit the usable memory.</param>
/// <param name="RequiresImportance">Whether the file has to be made with an importance matrix.</param>
public sealed record ModelSizeRecommendation(CommonModel Model, QuantizationPreset Preset, long WeightBytes, double BitsPerWeight,
                                             long KvCacheBytes, bool Fits, bool RequiresImportance)
{
    /// <summary>Weights plus key/value cache.</summary>
    public long TotalBytes => WeightBytes + KvCacheBytes;

    /// <summary>The preset's quality class.</summary>
    public QualityTier Tier => QuantizationQuality.GetTier(Preset);

    /// <summary>The plain-language label of <see cref="Tier"/>.</summary>
    public string TierLabel => QuantizationQuality.GetLabel(Tier);

    /// <summary>What to know before choosing it (Q3 class: visible loss; Q2 and lower: experimental); null when nothing.</summary>
    public string? Warning => QuantizationQuality.GetWarning(Tier);

    /// <summary>The perplexity increase the preset is ranked by (<see cref="QuantizationQuality.GetPerplexityDelta"/>).</summary>
    public double PerplexityDelta => QuantizationQuality.GetPerplexityDelta(Preset);

    /// <summary>Whether <see cref="PerplexityDelta"/> is an estimate rather than llama-quantize's published number.</summary>
    public bool IsEstimated => QuantizationQuality.IsEstimated(Preset);
}
