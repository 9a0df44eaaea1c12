using System.Collections.Frozen;

namespace Quantization.Models;

/// <summary>
/// How much each preset and each single type costs in quality, from data: llama-quantize's published perplexity
/// increases for its presets, and the round-trip error this library measures for single types (<c>quant report</c>).
/// </summary>
/// <remarks>
/// A preset without a published number (the IQ presets, the ternary ones, MXFP4_MOE) gets an estimate: its plan on the
/// Llama-3-8B shape gives an effective signal-to-noise ratio (the element-weighted noise of its tensor types), and a
/// least-squares line of log(perplexity increase) over that ratio, fitted to the presets that do have published numbers,
/// turns it into a perplexity increase. The estimate only orders presets; it is marked as an estimate wherever shown.
/// </remarks>
public static class QuantizationQuality
{
    /// <summary>The model llama-quantize's numbers were measured on.</summary>
    public const string PublishedModel = "Llama-3-8B";

    /// <summary>The matrix the single-type measurements were taken on: <c>quant report</c>'s default.</summary>
    public const string MeasuredMatrix = "256 x 4096 synthetic transformer-like weights, seed 42, no importance matrix";

    // llama-quantize's preset descriptions: perplexity increase over the 16-bit model, Llama-3-8B (F16 / BF16 on Mistral-7B).
    private static readonly FrozenDictionary<QuantizationPreset, double> s_published = new Dictionary<QuantizationPreset, double>
    {
        [QuantizationPreset.F16] = 0.0020,
        [QuantizationPreset.BF16] = -0.0050,
        [QuantizationPreset.Q8_0] = 0.0026,
        [QuantizationPreset.Q6_K] = 0.0217,
        [QuantizationPreset.Q5_K_M] = 0.0569,
        [QuantizationPreset.Q5_K_S] = 0.1049,
        [QuantizationPreset.Q5_1] = 0.1062,
        [QuantizationPreset.Q5_0] = 0.1316,
        [QuantizationPreset.Q4_K_M] = 0.1754,
        [QuantizationPreset.Q4_K_S] = 0.2689,
        [QuantizationPreset.Q4_1] = 0.4511,
        [QuantizationPreset.Q4_0] = 0.4685,
        [QuantizationPreset.Q3_K_L] = 0.5562,
        [QuantizationPreset.Q3_K_M] = 0.6569,
        [QuantizationPreset.Q3_K_S] = 1.6321,
        [QuantizationPreset.Q2_K_S] = 3.1836,
        [QuantizationPreset.Q2_K] = 3.5199,
    }.ToFrozenDictionary();

    // Round-trip signal-to-noise ratio in dB of each weight type on quant report's default matrix (see MeasuredMatrix;
    // IQ2_XXS, IQ2_XS and IQ1_S with equal importance for every column, as they need some).
    private static readonly FrozenDictionary<QuantType, double> s_measuredSnr = new Dictionary<QuantType, double>
    {
        [QuantType.F16] = 73.72, [QuantType.BF16] = 55.57, [QuantType.Q8_0] = 41.87, [QuantType.Q6_K] = 32.39,
        [QuantType.Q5_K] = 27.71, [QuantType.Q5_1] = 27.32, [QuantType.Q5_0] = 24.04, [QuantType.Q4_K] = 21.74,
        [QuantType.Q4_1] = 20.91, [QuantType.IQ4_NL] = 20.45, [QuantType.IQ4_XS] = 20.31, [QuantType.Q4_0] = 18.96,
        [QuantType.MXFP4] = 17.22, [QuantType.Q3_K] = 16.42, [QuantType.IQ3_S] = 13.30, [QuantType.IQ3_XXS] = 11.58,
        [QuantType.Q2_K] = 11.08, [QuantType.IQ2_S] = 7.52, [QuantType.IQ2_XS] = 7.34, [QuantType.IQ2_XXS] = 5.15,
        [QuantType.IQ1_M] = 4.62, [QuantType.IQ1_S] = 4.80, [QuantType.TQ2_0] = 2.94, [QuantType.TQ1_0] = 2.94,
    }.ToFrozenDictionary();

    private static readonly Lazy<Estimates> s_estimates = new(Estimates.Create);

    /// <summary>
    /// llama-quantize's published perplexity increase for <paramref name="preset"/> (on <see cref="PublishedModel"/>),
    /// or <see langword="null"/> when it publishes none (IQ, ternary and MXFP4 presets).
    /// </summary>
    public static double? GetPublishedPerplexityDelta(QuantizationPreset preset) =>
        s_published.TryGetValue(Check(preset), out double delta) ? delta : null;

    /// <summary>
    /// The perplexity increase used to rank <paramref name="preset"/>: the published one, else the estimate from its
    /// effective signal-to-noise ratio (see the remarks on <see cref="QuantizationQuality"/>).
    /// </summary>
    public static double GetPerplexityDelta(QuantizationPreset preset) => s_estimates.Value.Delta[Check(preset)];

    /// <summary>Whether <see cref="GetPerplexityDelta"/> of <paramref name="preset"/> is an estimate rather than a published number.</summary>
    public static bool IsEstimated(QuantizationPreset preset) => !s_published.ContainsKey(Check(preset));

    /// <summary>The measured round-trip signal-to-noise ratio (dB) of <paramref name="type"/> on <see cref="MeasuredMatrix"/>; null when not measured.</summary>
    public static double? GetMeasuredSnrDecibels(QuantType type) => s_measuredSnr.TryGetValue(type, out double snr) ? snr : type == QuantType.F32 ? double.PositiveInfinity : null;

    /// <summary>
    /// The signal-to-noise ratio (dB) of a whole plan: the element-weighted mean of its tensor types' relative noise
    /// (10^(−SNR/10)); tensors kept in F32 add none.
    /// </summary>
    /// <exception cref="ArgumentException">The plan uses a type without a measurement.</exception>
    public static double GetEffectiveSnrDecibels(QuantizationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        double noise = 0, count = 0;
        foreach (TensorDecision d in plan.Tensors)
        {
            double snr = GetMeasuredSnrDecibels(d.TargetType)
                ?? throw new ArgumentException($"{d.TargetType} has no measured round-trip error.", nameof(plan));
            noise += d.Tensor.ElementCount * Math.Pow(10, -snr / 10);
            count += d.Tensor.ElementCount;
        }

        return noise == 0 ? double.PositiveInfinity : -10 * Math.Log10(noise / count);
    }

    /// <summary>Every preset, best first (lowest <see cref="GetPerplexityDelta"/>; fewer bits first on a tie).</summary>
    public static IReadOnlyList<QuantizationPreset> PresetOrder => s_estimates.Value.Order;

    /// <summary>Every measured single type, best first (highest measured signal-to-noise ratio).</summary>
    public static IReadOnlyList<QuantType> TypeOrder { get; } = [.. s_measuredSnr.OrderByDescending(p => p.Value).ThenBy(p => (int)p.Key).Select(p => p.Key)];

    /// <summary>
    /// The plain-language class of <paramref name="preset"/>: Q8_0 / Q6_K / Q5 / 16-bit near-lossless, Q4 the
    /// recommended default, Q3 / IQ3 visible loss, Q2 / IQ2 / IQ1 / ternary experimental. MXFP4_MOE (4.25-bit experts)
    /// counts with the Q4 class.
    /// </summary>
    public static QualityTier GetTier(QuantizationPreset preset) => Check(preset) switch
    {
        QuantizationPreset.F16 or QuantizationPreset.BF16 or QuantizationPreset.Q8_0 or QuantizationPreset.Q6_K
            or QuantizationPreset.Q5_K_M or QuantizationPreset.Q5_K_S or QuantizationPreset.Q5_1 or QuantizationPreset.Q5_0 => QualityTier.NearLossless,
        QuantizationPreset.Q4_K_M or QuantizationPreset.Q4_K_S or QuantizationPreset.IQ4_XS or QuantizationPreset.IQ4_NL
            or QuantizationPreset.Q4_1 or QuantizationPreset.Q4_0 or QuantizationPreset.MXFP4_MOE => QualityTier.RecommendedDefault,
        QuantizationPreset.Q3_K_L or QuantizationPreset.Q3_K_M or QuantizationPreset.Q3_K_S or QuantizationPreset.IQ3_M
            or QuantizationPreset.IQ3_S or QuantizationPreset.IQ3_XS or QuantizationPreset.IQ3_XXS => QualityTier.VisibleLoss,
        _ => QualityTier.Experimental,
    };

    /// <summary>The warning a user should read before choosing a preset of <paramref name="tier"/>; null when none is needed.</summary>
    public static string? GetWarning(QualityTier tier) => tier switch
    {
        QualityTier.VisibleLoss => "visible quality loss",
        QualityTier.Experimental => "experimental",
        _ => null,
    };

    /// <summary>The plain-language label of <paramref name="tier"/> ("near-lossless", "recommended default", ...).</summary>
    public static string GetLabel(QualityTier tier) => tier switch
    {
        QualityTier.NearLossless => "near-lossless",
        QualityTier.RecommendedDefault => "recommended default",
        QualityTier.VisibleLoss => "visible loss",
        QualityTier.Experimental => "experimental",
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, "Not a tier."),
    };

    /// <summary>The plan of <paramref name="preset"/> on <paramref name="model"/>, with importance data where the preset needs it (as such files are made).</summary>
    internal static QuantizationPlan PlanAsPublished(QuantizationPreset preset, ModelDescription model)
    {
        var recipe = new QuantizationRecipe(preset);
        QuantizationPlan plan = recipe.CreatePlan(model);
        return plan.RequiresImportance ? recipe.CreatePlan(model, hasImportance: true) : plan;
    }

    private static QuantizationPreset Check(QuantizationPreset preset) => Enum.IsDefined(preset)
        ? preset
        : throw new ArgumentOutOfRangeException(nameof(preset), preset, "Not a preset.");

    private sealed record Estimates(FrozenDictionary<QuantizationPreset, double> Delta, IReadOnlyList<QuantizationPreset> Order)
    {
        public static Estimates Create()
        {
            // Llama-3-8B's shape (the same as Llama-3.1-8B's): the model the published numbers come from.
            ModelDescription shape = ModelDescription.Llama(32, 4096, 14336, 32, 8, 128256);
            var snr = new Dictionary<QuantizationPreset, double>();
            var bits = new Dictionary<QuantizationPreset, double>();
            foreach (QuantizationPreset p in QuantizationPresets.All)
            {
                QuantizationPlan plan = PlanAsPublished(p, shape);
                snr[p] = GetEffectiveSnrDecibels(plan);
                bits[p] = plan.BitsPerWeight;
            }

            // Least squares of ln(delta) over SNR on the quantized presets with a published, positive delta.
            (double X, double Y)[] points = [.. s_published
                .Where(p => p.Value > 0 && p.Key is not (QuantizationPreset.F16 or QuantizationPreset.BF16))
                .Select(p => (snr[p.Key], Math.Log(p.Value)))];
            double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
            double slope = points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
            var delta = QuantizationPresets.All.ToDictionary(
                p => p,
                p => s_published.TryGetValue(p, out double d) ? d : Math.Exp(my + slope * (snr[p] - mx)));
            QuantizationPreset[] order = [.. QuantizationPresets.All.OrderBy(p => delta[p]).ThenBy(p => bits[p])];
            return new Estimates(delta.ToFrozenDictionary(), order);
        }
    }
}
