using System.Collections.Frozen;
using System.Runtime.CompilerServices;

namespace Quantization.Models;

/// <summary>
/// Answers "which model size at which preset should this machine run": the largest model that fits with its key/value
/// cache at the best preset, by quality (<see cref="QuantizationQuality"/>), not by bits.
/// </summary>
public static class QuantizationAdvisor
{
    private static readonly ConditionalWeakTable<CommonModel, FrozenDictionary<QuantizationPreset, QuantizationPlan>> s_plans = [];

    /// <summary>
    /// The presets the advisor chooses from, best first: by tier, then by <see cref="QuantizationQuality.PresetOrder"/>
    /// within a tier (so an estimate never lifts a preset above a better tier). Every preset but the 16-bit ones (Q8_0
    /// is within a few thousandths of their perplexity at half the size), the ternary ones (only for models trained
    /// ternary) and MXFP4_MOE (for models trained in MXFP4).
    /// </summary>
    public static IReadOnlyList<QuantizationPreset> Candidates { get; } =
    [
        .. QuantizationQuality.PresetOrder
            .Where(p => p is not (QuantizationPreset.F16 or QuantizationPreset.BF16
                or QuantizationPreset.TQ1_0 or QuantizationPreset.TQ2_0 or QuantizationPreset.MXFP4_MOE))
            .OrderBy(QuantizationQuality.GetTier),
    ];

    /// <summary>
    /// Every candidate preset on <paramref name="model"/>, best quality first, with its weights, key/value cache and
    /// whether the two fit the usable memory of <paramref name="options"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range (<see cref="AdvisorOptions.Validate"/>).</exception>
    public static IReadOnlyList<ModelSizeRecommendation> Evaluate(CommonModel model, AdvisorOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        FrozenDictionary<QuantizationPreset, QuantizationPlan> plans = s_plans.GetValue(model, static m =>
            Candidates.ToFrozenDictionary(p => p, p => QuantizationQuality.PlanAsPublished(p, m.Description)));
        long kv = model.GetKvCacheBytes(options.ContextLength, options.KvCacheType);
        double usable = options.UsableBytes;
        return
        [
            .. Candidates.Select(p =>
            {
                QuantizationPlan plan = plans[p];
                return new ModelSizeRecommendation(model, p, plan.TargetBytes, plan.BitsPerWeight, kv, plan.TargetBytes + kv <= usable, plan.RequiresImportance);
            }),
        ];
    }

    /// <summary>
    /// For each model size that fits at all, its best preset that fits with its key/value cache. First the sizes whose
    /// best preset is of the recommended-default tier or better, largest model first: the first entry is the advice.
    /// Then the larger sizes that fit only at a visible-loss or experimental preset, largest first, each carrying its
    /// <see cref="ModelSizeRecommendation.Warning"/>. Empty when not even the smallest size fits.
    /// </summary>
    /// <param name="options">The machine.</param>
    /// <param name="models">The sizes to choose from; <see cref="CommonModel.All"/> when null.</param>
    /// <exception cref="ArgumentException">An option is out of range (<see cref="AdvisorOptions.Validate"/>).</exception>
    public static IReadOnlyList<ModelSizeRecommendation> Recommend(AdvisorOptions options, IReadOnlyList<CommonModel>? models = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var good = new List<ModelSizeRecommendation>();
        var lossy = new List<ModelSizeRecommendation>();
        foreach (CommonModel model in (models ?? CommonModel.All).OrderByDescending(m => m.ParameterCount))
        {
            if (Evaluate(model, options).FirstOrDefault(r => r.Fits) is not { } best)
            {
                continue;
            }

            (best.Tier <= QualityTier.RecommendedDefault ? good : lossy).Add(best);
        }

        return [.. good, .. lossy];
    }
}
