using Quantization.Models;

namespace Quantization.Tests.Models;

/// <summary>
/// <see cref="QuantizationAdvisor"/>, <see cref="QuantizationQuality"/> and <see cref="KvCacheBytes"/> against hand
/// reasoning: the expected advice per memory size, sizes and caches worked out here from the published model
/// dimensions and the block sizes, and a fresh measurement of the round-trip errors the quality order rests on.
/// </summary>
public sealed class QuantizationAdvisorTests
{
    private const double GB = 1e9;

    // Bytes per value of the block types, from their block layouts.
    private const double Q8_0 = 34.0 / 32, Q6_K = 210.0 / 256, Q5_K = 176.0 / 256, Q4_K = 144.0 / 256;

    /// <summary>
    /// The advice per memory size with the defaults (20% headroom, 8192 tokens, F16 cache), reasoned by hand.
    /// KV cache = layers × 8 KV heads × 128 (head size; 64 for 1B) × 2 × 8192 × 2 bytes:
    /// 8B 1.074 GB, 14B (48 layers) 1.611 GB, 32B (64) 2.147 GB, 70B (80) 2.684 GB, 123B (88) 2.953 GB.
    /// No Q4-class preset is below 4.25 bits per weight (IQ4_XS), so a size whose parameters × 4.25 / 8 plus its cache
    /// exceed the budget fits no preset of the recommended-default tier or better:
    /// 14B 14.77e9 → 7.85 + 1.61 = 9.46 GB; 32B 32.76e9 → 17.41 + 2.15 = 19.55 GB; 70B 70.55e9 → 37.48 + 2.68 = 40.16 GB;
    /// 123B 122.6e9 → 65.14 + 2.95 = 68.09 GB.
    /// Weights of a preset: default type everywhere, output Q6_K, attn_v / ffn_down Q6_K in the use_more_bits layers (half
    /// of them) for the _M presets (<see cref="HandWeights"/>).
    /// </summary>
    public static TheoryData<int, string, QuantizationPreset> ExpectedAdvice => new()
    {
        // 8 GB → 6.4 usable. 14B ≥ 9.46 no. 8B: Q5_K_S 5.59 + 1.07 = 6.67 no; Q4_K_M 4.91 + 1.07 = 5.99 yes.
        { 8, "8B", QuantizationPreset.Q4_K_M },
        // 16 GB → 12.8. 32B ≥ 19.55 no. 14B: Q6_K 12.12 + 1.61 = 13.73 no; Q5_K_M 10.50 + 1.61 = 12.11 yes.
        { 16, "14B", QuantizationPreset.Q5_K_M },
        // 24 GB → 19.2. 32B ≥ 19.55 no (only Q3 class fits). 14B: Q8_0 15.69 + 1.61 = 17.30 yes.
        { 24, "14B", QuantizationPreset.Q8_0 },
        // 32 GB → 25.6. 70B ≥ 40.16 no. 32B: Q6_K 26.88 + 2.15 = 29.03 no; Q5_K_M 23.25 + 2.15 = 25.40 yes.
        { 32, "32B", QuantizationPreset.Q5_K_M },
        // 48 GB → 38.4. 70B ≥ 40.16 no. 32B: Q8_0 34.81 + 2.15 = 36.96 yes.
        { 48, "32B", QuantizationPreset.Q8_0 },
        // 64 GB → 51.2. 123B ≥ 68.09 no. 70B: Q5_K_S 48.65 + 2.68 = 51.33 no; Q4_K_M ≈ 42.5 + 2.68 = 45.2 yes.
        { 64, "70B", QuantizationPreset.Q4_K_M },
        // 128 GB → 102.4. 123B: Q6_K 100.59 + 2.95 = 103.54 no; Q5_K_M 86.49 + 2.95 = 89.44 yes.
        { 128, "123B", QuantizationPreset.Q5_K_M },
    };

    [Theory]
    [MemberData(nameof(ExpectedAdvice))]
    public void First_recommendation_is_the_largest_model_at_the_best_tier_that_fits(int gigabytes, string model, QuantizationPreset preset)
    {
        var options = new AdvisorOptions(gigabytes * 1_000_000_000L);

        IReadOnlyList<ModelSizeRecommendation> picks = QuantizationAdvisor.Recommend(options);

        Assert.NotEmpty(picks);
        Assert.Equal((model, preset), (picks[0].Model.Name, picks[0].Preset));
        Assert.True(picks[0].TotalBytes <= gigabytes * GB * 0.8);
        Assert.True(picks[0].Tier <= QualityTier.RecommendedDefault);
        Assert.Null(picks[0].Warning);
    }

    [Fact]
    public void Recommendations_are_the_good_tiers_largest_first_then_the_larger_lossy_choices()
    {
        foreach (int gigabytes in new[] { 4, 8, 16, 24, 32, 48, 64, 96, 128, 192 })
        {
            IReadOnlyList<ModelSizeRecommendation> picks = QuantizationAdvisor.Recommend(new AdvisorOptions(gigabytes * 1_000_000_000L));
            int good = picks.TakeWhile(p => p.Tier <= QualityTier.RecommendedDefault).Count();
            Assert.All(picks.Skip(good), p => Assert.True(p.Tier > QualityTier.RecommendedDefault));
            Assert.All(picks, p => Assert.True(p.Fits && p.TotalBytes <= gigabytes * GB * 0.8));
            AssertDescending(picks.Take(good));
            AssertDescending(picks.Skip(good));
            if (good > 0)
            {
                Assert.All(picks.Skip(good), p => Assert.True(p.Model.ParameterCount > picks[0].Model.ParameterCount));
            }

            // One pick per size that fits at all.
            Assert.Equal(picks.Count, picks.Select(p => p.Model.Name).Distinct().Count());
        }

        static void AssertDescending(IEnumerable<ModelSizeRecommendation> picks)
        {
            long[] sizes = [.. picks.Select(p => p.Model.ParameterCount)];
            Assert.Equal(sizes.OrderDescending(), sizes);
        }
    }

    [Fact]
    public void Lossy_choices_carry_their_warning()
    {
        // 24 GB: 32B fits only at Q3_K_M (15.93 + 2.15 = 18.08 GB; Q3_K_L 17.24 + 2.15 = 19.39 > 19.2).
        IReadOnlyList<ModelSizeRecommendation> at24 = QuantizationAdvisor.Recommend(new AdvisorOptions(24_000_000_000L));
        ModelSizeRecommendation b32 = Assert.Single(at24, p => p.Model.Name == "32B");
        Assert.Equal(QuantizationPreset.Q3_K_M, b32.Preset);
        Assert.Equal("visible quality loss", b32.Warning);

        // 32 GB: 70B fits only at 2-bit presets (70.55e9 × 3 / 8 = 26.5 GB alone is over 25.6).
        IReadOnlyList<ModelSizeRecommendation> at32 = QuantizationAdvisor.Recommend(new AdvisorOptions(32_000_000_000L));
        ModelSizeRecommendation b70 = Assert.Single(at32, p => p.Model.Name == "70B");
        Assert.Equal(QualityTier.Experimental, b70.Tier);
        Assert.Equal("experimental", b70.Warning);

        foreach (QuantizationPreset preset in QuantizationPresets.All)
        {
            string name = QuantizationPresets.GetName(preset);
            QualityTier expected = name.StartsWith("Q3", StringComparison.Ordinal) || name.StartsWith("IQ3", StringComparison.Ordinal) ? QualityTier.VisibleLoss
                : name.StartsWith("Q2", StringComparison.Ordinal) || name.StartsWith("IQ2", StringComparison.Ordinal) || name.StartsWith("IQ1", StringComparison.Ordinal) || name.StartsWith("TQ", StringComparison.Ordinal) ? QualityTier.Experimental
                : name.StartsWith("Q4", StringComparison.Ordinal) || name.StartsWith("IQ4", StringComparison.Ordinal) || name == "MXFP4_MOE" ? QualityTier.RecommendedDefault
                : QualityTier.NearLossless;
            Assert.Equal(expected, QuantizationQuality.GetTier(preset));
            string? warning = QuantizationQuality.GetWarning(expected);
            Assert.Equal(expected switch { QualityTier.VisibleLoss => "visible quality loss", QualityTier.Experimental => "experimental", _ => null }, warning);
        }
    }

    /// <summary>llama-quantize's published perplexity increases on Llama-3-8B, copied here for the checks below.</summary>
    private static readonly Dictionary<QuantizationPreset, double> s_published = new()
    {
        [QuantizationPreset.Q8_0] = 0.0026, [QuantizationPreset.Q6_K] = 0.0217, [QuantizationPreset.Q5_K_M] = 0.0569,
        [QuantizationPreset.Q5_K_S] = 0.1049, [QuantizationPreset.Q5_1] = 0.1062, [QuantizationPreset.Q5_0] = 0.1316,
        [QuantizationPreset.Q4_K_M] = 0.1754, [QuantizationPreset.Q4_K_S] = 0.2689, [QuantizationPreset.Q4_1] = 0.4511,
        [QuantizationPreset.Q4_0] = 0.4685, [QuantizationPreset.Q3_K_L] = 0.5562, [QuantizationPreset.Q3_K_M] = 0.6569,
        [QuantizationPreset.Q3_K_S] = 1.6321, [QuantizationPreset.Q2_K_S] = 3.1836, [QuantizationPreset.Q2_K] = 3.5199,
    };

    private static readonly QuantizationPreset[] s_legacy = [QuantizationPreset.Q4_0, QuantizationPreset.Q4_1, QuantizationPreset.Q5_0, QuantizationPreset.Q5_1];

    [Fact]
    public void Published_deltas_are_llama_quantizes()
    {
        foreach ((QuantizationPreset preset, double delta) in s_published)
        {
            Assert.Equal(delta, QuantizationQuality.GetPublishedPerplexityDelta(preset));
            Assert.Equal(delta, QuantizationQuality.GetPerplexityDelta(preset));
            Assert.False(QuantizationQuality.IsEstimated(preset));
        }

        Assert.Null(QuantizationQuality.GetPublishedPerplexityDelta(QuantizationPreset.IQ4_XS));
        Assert.True(QuantizationQuality.IsEstimated(QuantizationPreset.IQ3_M));
    }

    [Fact]
    public void Never_a_legacy_preset_where_a_k_quant_of_equal_or_smaller_size_is_more_accurate()
    {
        // "More accurate": by the published numbers where both presets have one, else by the round-trip SNR of their
        // default types, measured here (a smaller matrix than quant report's).
        float[] weights = Cli.Report.SyntheticWeights.TransformerLike(7, 64 * 4096);
        var snr = new Dictionary<QuantType, double>();
        double Snr(QuantType t) => snr.TryGetValue(t, out double v) ? v : snr[t] = QuantizationError.Measure(t, weights, 4096).SnrDecibels;
        bool MoreAccurate(QuantizationPreset a, QuantizationPreset b) => s_published.ContainsKey(a) && s_published.ContainsKey(b)
            ? s_published[a] < s_published[b]
            : Snr(QuantizationPresets.GetDefaultType(a)) > Snr(QuantizationPresets.GetDefaultType(b));
        QuantizationPreset[] modern = [QuantizationPreset.Q6_K, QuantizationPreset.Q5_K_M, QuantizationPreset.Q5_K_S, QuantizationPreset.Q4_K_M,
                                       QuantizationPreset.Q4_K_S, QuantizationPreset.IQ4_NL, QuantizationPreset.IQ4_XS, QuantizationPreset.Q3_K_L];
        foreach (CommonModel model in CommonModel.All)
        {
            IReadOnlyList<ModelSizeRecommendation> rows = QuantizationAdvisor.Evaluate(model, new AdvisorOptions(1_000_000_000_000L));
            foreach (QuantizationPreset legacy in s_legacy)
            {
                ModelSizeRecommendation l = rows.Single(r => r.Preset == legacy);
                // A K / IQ preset at most as large and more accurate: the advisor must rank it first.
                ModelSizeRecommendation[] better = [.. rows.Where(r => modern.Contains(r.Preset) && r.WeightBytes <= l.WeightBytes && MoreAccurate(r.Preset, legacy))];
                Assert.NotEmpty(better);
                int rank = IndexOf(rows, legacy);
                Assert.All(better, b => Assert.True(IndexOf(rows, b.Preset) < rank, $"{b.Preset} ranks below {legacy} on {model.Name}"));
            }
        }

        // Whatever the machine, the pick is never a legacy preset such a K preset beats.
        foreach (int context in new[] { 2048, 8192, 32768 })
        {
            foreach (QuantType cache in new[] { QuantType.F16, QuantType.Q8_0, QuantType.Q4_0 })
            {
                for (double gigabytes = 1; gigabytes <= 200; gigabytes *= 1.07)
                {
                    var options = new AdvisorOptions((long)(gigabytes * GB)) { ContextLength = context, KvCacheType = cache };
                    foreach (ModelSizeRecommendation pick in QuantizationAdvisor.Recommend(options).Where(p => s_legacy.Contains(p.Preset)))
                    {
                        IReadOnlyList<ModelSizeRecommendation> rows = QuantizationAdvisor.Evaluate(pick.Model, options);
                        Assert.DoesNotContain(rows, r => modern.Contains(r.Preset) && r.WeightBytes <= pick.WeightBytes && MoreAccurate(r.Preset, pick.Preset));
                    }
                }
            }
        }

        static int IndexOf(IReadOnlyList<ModelSizeRecommendation> rows, QuantizationPreset preset) =>
            rows.Select((r, i) => (r, i)).Single(x => x.r.Preset == preset).i;
    }

    [Fact]
    public void Single_type_order_is_the_measured_round_trip_error()
    {
        // quant report's default matrix, measured afresh: the stored numbers must be these.
        float[] weights = Cli.Report.SyntheticWeights.TransformerLike(42, 256 * 4096);
        QuantType[] types = [QuantType.Q8_0, QuantType.Q6_K, QuantType.Q5_K, QuantType.Q5_1, QuantType.Q5_0, QuantType.Q4_K,
                             QuantType.Q4_1, QuantType.IQ4_XS, QuantType.Q4_0, QuantType.Q3_K, QuantType.Q2_K];
        var measured = new Dictionary<QuantType, double>();
        foreach (QuantType type in types)
        {
            measured[type] = QuantizationError.Measure(type, weights, 4096).SnrDecibels;
            Assert.Equal(measured[type], QuantizationQuality.GetMeasuredSnrDecibels(type)!.Value, 0.01);
        }

        // K and IQ types above legacy types of equal or larger size, where they measure better.
        foreach (QuantType legacy in new[] { QuantType.Q4_0, QuantType.Q4_1, QuantType.Q5_0, QuantType.Q5_1 })
        {
            foreach (QuantType modern in new[] { QuantType.Q4_K, QuantType.IQ4_XS, QuantType.Q5_K, QuantType.Q6_K })
            {
                if (QuantFormat.Get(modern).BitsPerWeight <= QuantFormat.Get(legacy).BitsPerWeight && measured[modern] > measured[legacy])
                {
                    Assert.True(IndexOf(modern) < IndexOf(legacy), $"{modern} should rank above {legacy}");
                }
            }
        }

        Assert.True(IndexOf(QuantType.Q4_K) < IndexOf(QuantType.Q4_0));
        Assert.True(IndexOf(QuantType.Q5_K) < IndexOf(QuantType.Q5_1));

        static int IndexOf(QuantType t) => QuantizationQuality.TypeOrder.ToList().IndexOf(t);
    }

    [Fact]
    public void Preset_order_follows_the_published_deltas_and_the_tiers()
    {
        IReadOnlyList<QuantizationPreset> order = QuantizationQuality.PresetOrder;
        Assert.Equal(QuantizationPresets.All.Count, order.Count);
        QuantizationPreset[] published = [.. order.Where(s_published.ContainsKey)];
        Assert.Equal(s_published.OrderBy(p => p.Value).Select(p => p.Key), published);

        // Candidates: never a worse tier before a better one; no 16-bit, ternary or MXFP4 file.
        IReadOnlyList<QuantizationPreset> candidates = QuantizationAdvisor.Candidates;
        Assert.Equal(candidates.Select(QuantizationQuality.GetTier).Order(), candidates.Select(QuantizationQuality.GetTier));
        Assert.DoesNotContain(QuantizationPreset.F16, candidates);
        Assert.DoesNotContain(QuantizationPreset.TQ1_0, candidates);
        Assert.DoesNotContain(QuantizationPreset.MXFP4_MOE, candidates);
        Assert.Equal(QuantizationPreset.Q8_0, candidates[0]);
    }

    [Fact]
    public void Kv_cache_matches_a_hand_computation()
    {
        CommonModel b8 = CommonModel.All.Single(m => m.Name == "8B");
        // 32 layers × 8 KV heads × 128 × 2 (K and V) × 8192 tokens × 2 bytes.
        Assert.Equal(32L * 8 * 128 * 2 * 8192 * 2, b8.GetKvCacheBytes(8192));
        Assert.Equal(1_073_741_824L, b8.GetKvCacheBytes(8192, QuantType.F16));
        // Q8_0: a row of 1024 values is 32 blocks of 34 bytes = 1088 bytes; 32 layers × 2 × 8192 rows.
        Assert.Equal(32L * 2 * 8192 * 1088, b8.GetKvCacheBytes(8192, QuantType.Q8_0));
        // Q4_0: 32 blocks of 18 bytes = 576.
        Assert.Equal(32L * 2 * 8192 * 576, b8.GetKvCacheBytes(8192, QuantType.Q4_0));
        // 1B: 16 layers × 8 × 64 × 2 × 4096 × 2.
        Assert.Equal(16L * 8 * 64 * 2 * 4096 * 2, CommonModel.All.Single(m => m.Name == "1B").GetKvCacheBytes(4096));
        Assert.Equal(80L * 8 * 128 * 2 * 100 * 4, KvCacheBytes.Compute(80, 8, 128, 100, QuantType.F32));
    }

    [Fact]
    public void Weights_are_the_preset_rules_on_the_published_shapes()
    {
        // Parameter counts from the published dimensions (embeddings + output unless tied, 4 attention and 3 FFN matrices, 2 norms per layer).
        Assert.Equal(8_030_261_248L, CommonModel.All.Single(m => m.Name == "8B").ParameterCount);
        Assert.Equal(1_235_814_400L, CommonModel.All.Single(m => m.Name == "1B").ParameterCount);

        var options = new AdvisorOptions(1_000_000_000_000L);
        foreach ((string name, QuantizationPreset preset, double expected) in new[]
        {
            ("8B", QuantizationPreset.Q4_K_M, HandWeights(32, 4096, 14336, 128256, Q4_K, moreBits: true)),
            ("32B", QuantizationPreset.Q5_K_M, HandWeights(64, 5120, 27648, 152064, Q5_K, moreBits: true)),
            ("32B", QuantizationPreset.Q6_K, HandWeights(64, 5120, 27648, 152064, Q6_K, moreBits: false)),
            ("70B", QuantizationPreset.Q5_K_S, HandWeights(80, 8192, 28672, 128256, Q5_K, moreBits: false)),
            ("123B", QuantizationPreset.Q5_K_M, HandWeights(88, 12288, 28672, 32768, Q5_K, moreBits: true)),
        })
        {
            ModelSizeRecommendation row = QuantizationAdvisor.Evaluate(CommonModel.All.Single(m => m.Name == name), options).Single(r => r.Preset == preset);
            Assert.Equal((long)Math.Round(expected), row.WeightBytes);
        }

        // Q8_0 is Q8_0 everywhere, output included.
        ModelSizeRecommendation q8 = QuantizationAdvisor.Evaluate(CommonModel.All.Single(m => m.Name == "14B"), options).Single(r => r.Preset == QuantizationPreset.Q8_0);
        long p14 = CommonModel.All.Single(m => m.Name == "14B").ParameterCount;
        Assert.Equal((long)Math.Round(((p14 - (2 * 48 + 1) * 5120) * Q8_0) + ((2 * 48 + 1) * 5120 * 4)), q8.WeightBytes);
    }

    /// <summary>
    /// A LLaMA-form model with 8 KV heads of 128 (1024-wide K and V) in <paramref name="type"/>, output Q6_K, and with
    /// <paramref name="moreBits"/> attn_v and ffn_down in Q6_K in llama.cpp's use_more_bits layers (first and last
    /// eighth, every third in between); F32 norms.
    /// </summary>
    private static double HandWeights(int layers, int width, int ff, int vocab, double type, bool moreBits)
    {
        int more = 0;
        for (int i = 0; i < layers; i++)
        {
            more += moreBits && (i < layers / 8 || i >= 7 * layers / 8 || (i - layers / 8) % 3 == 2) ? 1 : 0;
        }

        double perLayerFixed = (2.0 * width * width + 1.0 * width * 1024 + 2.0 * width * ff) * type;
        double vAndDown = 1.0 * width * 1024 + 1.0 * width * ff;
        return (double)width * vocab * (type + Q6_K)
            + layers * perLayerFixed + more * vAndDown * Q6_K + (layers - more) * vAndDown * type
            + (2.0 * layers + 1) * width * 4;
    }

    [Fact]
    public void Bad_options_are_argument_exceptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>("MemoryBytes", () => QuantizationAdvisor.Recommend(new AdvisorOptions(0)));
        Assert.Throws<ArgumentOutOfRangeException>("Headroom", () => QuantizationAdvisor.Recommend(new AdvisorOptions(GBytes(8)) { Headroom = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>("Headroom", () => QuantizationAdvisor.Recommend(new AdvisorOptions(GBytes(8)) { Headroom = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>("ContextLength", () => QuantizationAdvisor.Recommend(new AdvisorOptions(GBytes(8)) { ContextLength = 0 }));
        Assert.Throws<ArgumentException>("KvCacheType", () => QuantizationAdvisor.Recommend(new AdvisorOptions(GBytes(8)) { KvCacheType = QuantType.Q4_K }));
        Assert.Throws<ArgumentException>("type", () => KvCacheBytes.Compute(32, 8, 128, 8192, QuantType.Q2_K));
        Assert.Throws<ArgumentException>("type", () => KvCacheBytes.Compute(1, 1, 16, 8192, QuantType.Q8_0));
        Assert.Throws<ArgumentOutOfRangeException>("layers", () => KvCacheBytes.Compute(0, 8, 128, 8192));
        Assert.Throws<ArgumentException>("heads", () => new CommonModel("x", "y", 2, 100, 256, 3, 1, 32));
        Assert.Empty(QuantizationAdvisor.Recommend(new AdvisorOptions(100_000_000L)));

        static long GBytes(int n) => n * 1_000_000_000L;
    }
}
