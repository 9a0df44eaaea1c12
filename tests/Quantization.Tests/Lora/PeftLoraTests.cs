using Quantization.Lora;

namespace Quantization.Tests.Lora;

/// <summary>PEFT <c>adapter_config.json</c> parsing and the state-dictionary mapping over an in-memory tensor source.</summary>
public sealed class PeftLoraTests
{
    private const string Config = """
        {
          "peft_type": "LORA",
          "r": 8,
          "lora_alpha": 16,
          "lora_dropout": 0.05,
          "target_modules": ["q_proj", "v_proj", "embed_tokens"],
          "use_rslora": false,
          "fan_in_fan_out": false,
          "rank_pattern": { "layers\\.1\\.self_attn\\.v_proj": 4 },
          "alpha_pattern": { "v_proj": 32 },
          "bias": "none",
          "task_type": "CAUSAL_LM"
        }
        """;

    [Fact]
    public void ConfigGivesRankAlphaAndPatternOverrides()
    {
        PeftLoraConfig config = PeftLoraConfig.Parse(Config);

        Assert.Equal(8, config.Rank);
        Assert.Equal(16f, config.Alpha);
        Assert.Equal(["q_proj", "v_proj", "embed_tokens"], config.TargetModules);
        Assert.False(config.UseRsLora);
        Assert.False(config.FanInFanOut);

        Assert.Equal(2f, config.GetScaling("model.layers.0.self_attn.q_proj")); // 16 / 8
        Assert.Equal(4f, config.GetScaling("model.layers.0.self_attn.v_proj")); // alpha_pattern 32 / 8
        Assert.Equal(4, config.GetRank("model.layers.1.self_attn.v_proj"));
        Assert.Equal(8f, config.GetScaling("model.layers.1.self_attn.v_proj")); // 32 / 4
        Assert.Equal(8, config.GetRank("model.layers.11.self_attn.v_proj")); // the pattern is anchored: layers.11 is not layers.1

        Assert.True(config.Targets("model.layers.0.self_attn.q_proj"));
        Assert.False(config.Targets("model.layers.0.self_attn.k_proj"));
        Assert.False(config.Targets("model.layers.0.self_attn.xq_proj")); // a dotted suffix, not any suffix
    }

    [Fact]
    public void RsLoraFanInFanOutAndRegexTargetsAreRead()
    {
        PeftLoraConfig config = PeftLoraConfig.Parse("""{ "r": 16, "lora_alpha": 8.0, "use_rslora": true, "fan_in_fan_out": true, "target_modules": ".*\\.(c_attn|c_proj)" }""");

        Assert.True(config.UseRsLora);
        Assert.True(config.FanInFanOut);
        Assert.Equal(2f, config.GetScaling("transformer.h.0.attn.c_attn")); // 8 / √16
        Assert.Equal(".*\\.(c_attn|c_proj)", config.TargetModulesRegex);
        Assert.True(config.Targets("transformer.h.0.attn.c_attn"));
        Assert.False(config.Targets("transformer.h.0.mlp.c_fc"));
        Assert.True(PeftLoraConfig.Parse("""{ "r": 4, "lora_alpha": 4, "target_modules": "all-linear" }""").Targets("anything"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("""{ "peft_type": "IA3", "r": 8 }""")]
    [InlineData("""{ "r": 0, "lora_alpha": 8 }""")]
    [InlineData("""{ "r": 2.5, "lora_alpha": 8 }""")]
    [InlineData("""{ "r": 8, "lora_alpha": "8" }""")]
    [InlineData("""{ "r": 8, "rank_pattern": { "q_proj": -1 } }""")]
    [InlineData("""{ "r": 8, "alpha_pattern": { "(": 4 } }""")]
    [InlineData("""{ "r": 8, "use_rslora": "yes" }""")]
    [InlineData("""{ "r": 8, "target_modules": 5 }""")]
    public void BadConfigsAreInvalidDataExceptions(string json) =>
        Assert.Throws<InvalidDataException>(() => PeftLoraConfig.Parse(json));

    [Fact]
    public void DoraIsRefused() =>
        Assert.Throws<NotSupportedException>(() => PeftLoraConfig.Parse("""{ "r": 8, "lora_alpha": 8, "use_dora": true }"""));

    [Fact]
    public void StateDictionaryMapsToBaseWeightNamesWithPerModuleScaling()
    {
        PeftLoraConfig config = PeftLoraConfig.Parse(Config);
        LoraReference.Factors q0 = LoraReference.Random(1, 8, 32, 24, 0);
        LoraReference.Factors v1 = LoraReference.Random(2, 4, 32, 16, 0);
        var source = new InMemoryLoraTensorSource();
        source.Add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", [8, 32], q0.A);
        source.Add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [24, 8], q0.B);
        source.Add("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", [16, 4], v1.B);
        // A converter callback (what an F16 / BF16 file reader supplies) in place of float memory.
        source.Add("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", new LoraSourceTensor([4, 32], span => v1.A.CopyTo(span)));
        source.Add("base_model.model.lm_head.weight", [2, 32], new float[64]); // a saved full weight, not an adapter

        LoraAdapterSet set = LoraAdapterSet.FromPeft(config, source);

        Assert.Equal(["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.v_proj.weight"], set.Keys);
        LoraAdapter q = set["model.layers.0.self_attn.q_proj.weight"];
        Assert.Equal((8, 32, 24, 2f), (q.Rank, q.InputSize, q.OutputSize, q.Scaling));
        Assert.Equal(q0.A, q.A.ToArray());
        Assert.Equal(q0.B[23 * 8 + 7], q.GetB(23, 7));
        LoraAdapter v = set["model.layers.1.self_attn.v_proj.weight"];
        Assert.Equal((4, 32, 16, 8f), (v.Rank, v.InputSize, v.OutputSize, v.Scaling)); // alpha_pattern 32 / rank_pattern 4
        Assert.Equal(v1.A, v.A.ToArray());
    }

    [Fact]
    public void FanInFanOutAdaptersKeepTheirOrientation()
    {
        // GPT-2's Conv1D stores its weight in × out; PEFT still saves lora_A as r × in and lora_B as out × r and
        // transposes only the delta to meet that weight. The adapter here is outputs × inputs, so nothing moves.
        PeftLoraConfig config = PeftLoraConfig.Parse("""{ "r": 2, "lora_alpha": 2, "fan_in_fan_out": true, "target_modules": ["c_attn"] }""");
        float[] a = [1, 2, 3, 4, 5, 6]; // 2 × 3
        float[] b = [1, 0, 0, 1, 1, 1, 2, 2]; // 4 × 2
        var source = new InMemoryLoraTensorSource();
        source.Add("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", [2, 3], a);
        source.Add("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", [4, 2], b);

        LoraAdapter adapter = LoraAdapterSet.FromPeft(config, source)["transformer.h.0.attn.c_attn.weight"];

        Assert.Equal((3, 4), (adapter.InputSize, adapter.OutputSize));
        Assert.Equal(a, adapter.A.ToArray());
        Assert.Equal(2f, adapter.GetB(3, 1));
    }

    [Fact]
    public void EmbeddingAdaptersAreTurnedToOutputsByInputs()
    {
        // PEFT's embedding: lora_embedding_A is r × vocab, lora_embedding_B is embd × r, delta = (B·A)ᵀ (vocab × embd).
        PeftLoraConfig config = PeftLoraConfig.Parse(Config);
        const int r = 8, vocab = 5, embd = 6;
        LoraReference.Factors f = LoraReference.Random(7, r, vocab, embd, 0); // A: r × vocab, B: embd × r
        var source = new InMemoryLoraTensorSource();
        source.Add("base_model.model.model.embed_tokens.lora_embedding_A", [r, vocab], f.A);
        source.Add("base_model.model.model.embed_tokens.lora_embedding_B", [embd, r], f.B);

        LoraAdapter adapter = LoraAdapterSet.FromPeft(config, source)["model.embed_tokens.weight"];

        Assert.Equal((embd, vocab), (adapter.InputSize, adapter.OutputSize));
        for (int v = 0; v < vocab; v++)
        {
            for (int e = 0; e < embd; e++)
            {
                double expected = 0, actual = 0;
                for (int k = 0; k < r; k++)
                {
                    expected += (double)f.B[e * r + k] * f.A[k * vocab + v];
                    actual += (double)adapter.GetB(v, k) * adapter.A[k * embd + e];
                }

                Assert.Equal(expected, actual, 12);
            }
        }
    }

    public static TheoryData<string> BadSources() => ["missing B", "rank differs from config", "A is 3-D", "B rank differs", "untargeted module", "NaN", "duplicate A"];

    [Theory]
    [MemberData(nameof(BadSources))]
    public void BadStateDictionariesAreInvalidDataExceptions(string problem)
    {
        PeftLoraConfig config = PeftLoraConfig.Parse("""{ "r": 4, "lora_alpha": 4, "target_modules": ["q_proj"] }""");
        const string prefix = "base_model.model.layers.0.q_proj";
        var source = new InMemoryLoraTensorSource();
        float[] a = new float[4 * 16], b = new float[8 * 4];
        switch (problem)
        {
            case "missing B": source.Add(prefix + ".lora_A.weight", [4, 16], a); break;
            case "rank differs from config":
                source.Add(prefix + ".lora_A.weight", [2, 32], a);
                source.Add(prefix + ".lora_B.weight", [16, 2], b);
                break;
            case "A is 3-D":
                source.Add(prefix + ".lora_A.weight", [4, 4, 4], a);
                source.Add(prefix + ".lora_B.weight", [8, 4], b);
                break;
            case "B rank differs":
                source.Add(prefix + ".lora_A.weight", [4, 16], a);
                source.Add(prefix + ".lora_B.weight", [16, 2], b);
                break;
            case "untargeted module":
                source.Add("base_model.model.layers.0.k_proj.lora_A.weight", [4, 16], a);
                source.Add("base_model.model.layers.0.k_proj.lora_B.weight", [8, 4], b);
                break;
            case "NaN":
                a[3] = float.NaN;
                source.Add(prefix + ".lora_A.weight", [4, 16], a);
                source.Add(prefix + ".lora_B.weight", [8, 4], b);
                break;
            case "duplicate A":
                source.Add("base_model.model.layers.0.q_proj.lora_A.weight", [4, 16], a);
                source.Add("layers.0.q_proj.lora_A.weight", [4, 16], a);
                source.Add(prefix + ".lora_B.weight", [8, 4], b);
                break;
        }

        Assert.Throws<InvalidDataException>(() => LoraAdapterSet.FromPeft(config, source));
    }

    [Fact]
    public void SourceTensorsCheckTheirShape()
    {
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => new LoraSourceTensor([2, 3], new float[5])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => new LoraSourceTensor([-1, 3], new float[3])).ParamName);
        var source = new InMemoryLoraTensorSource();
        source.Add("x", [1], new float[1]);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => source.Add("x", [1], new float[1])).ParamName);
    }
}
