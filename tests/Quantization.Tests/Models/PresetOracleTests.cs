using Quantization.Gguf;
using Quantization.Models;
using Quantization.Oracle;

namespace Quantization.Tests.Models;

/// <summary>
/// <see cref="ModelQuantizer"/> against llama.cpp's <c>llama_model_quantize</c> on synthetic models of real
/// architectures: the whole output file must be byte-identical (header, metadata order, tensor order, types, bytes, padding).
/// </summary>
public sealed class PresetOracleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-presets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static readonly Dictionary<string, SyntheticModel> Models = new()
    {
        ["llama"] = new("llama"),
        ["llama-gqa"] = new("llama", KvHeads: 2, Seed: 2),
        ["llama-f16"] = new("llama", KvHeads: 4, Source: QuantType.F16, Seed: 3),
        ["llama-bf16"] = new("llama", Source: QuantType.BF16, Layers: 3, Seed: 4),
        ["llama-moe4"] = new("llama", FeedForward: 256, Experts: 4, KvHeads: 4, Seed: 5),
        ["llama-moe8"] = new("llama", FeedForward: 256, Experts: 8, Layers: 2, Seed: 6),
        ["llama-224"] = new("llama", Embedding: 224, Heads: 7, KvHeads: 7, FeedForward: 480, Seed: 7),
        ["falcon"] = new("falcon", FusedQkv: true, KvHeads: 1, Seed: 8),
        ["gemma"] = new("gemma", TiedEmbeddings: true, Seed: 9),
        ["qwen2"] = new("qwen2", KvHeads: 2, Seed: 10),
        ["phi3"] = new("phi3", FusedQkv: true, Seed: 11),
    };

    /// <summary>Presets that need no importance matrix on the plain llama model.</summary>
    public static TheoryData<string> PresetsWithoutImportance() =>
        [.. QuantizationPresets.All.Where(p => !PlanFor(Models["llama"], p).RequiresImportance).Select(QuantizationPresets.GetName)];

    /// <summary>The main mixes on every model (each architecture, GQA, sources, experts, odd row lengths).</summary>
    public static TheoryData<string, string> MainPresetsOnEveryModel()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in Models.Keys)
        {
            foreach (string preset in (string[])["Q4_K_M", "Q5_K_M", "Q3_K_M", "Q3_K_L", "Q2_K", "Q4_K_S", "Q6_K", "Q4_0", "IQ4_XS", "IQ3_M", "MXFP4_MOE", "F16"])
            {
                data.Add(model, preset);
            }
        }

        return data;
    }

    private static QuantizationPlan PlanFor(SyntheticModel model, QuantizationPreset preset)
    {
        var tensors = model.Tensors().Select(t => new ModelTensor(t.Name, t.Dims, t.Matrix ? model.Source : QuantType.F32)).ToList();
        return new QuantizationRecipe(preset).CreatePlan(new ModelDescription(model.Architecture, model.Layers, model.Heads, model.KvHeads, model.Experts, tensors));
    }

    [Theory]
    [MemberData(nameof(PresetsWithoutImportance))]
    public void Every_preset_without_importance_writes_llama_cpps_file(string preset) => AssertSameFile("llama", preset);

    [Theory]
    [MemberData(nameof(MainPresetsOnEveryModel))]
    public void Main_presets_write_llama_cpps_file_on_every_model(string model, string preset) => AssertSameFile(model, preset);

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("llama-moe8")]
    [InlineData("llama-f16")]
    public void Every_preset_without_importance_on_more_models(string model)
    {
        foreach (QuantizationPreset p in QuantizationPresets.All.Where(p => !PlanFor(Models[model], p).RequiresImportance))
        {
            AssertSameFile(model, QuantizationPresets.GetName(p));
        }
    }

    public static TheoryData<string, string> EveryPresetWithImportance()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in (string[])["llama", "llama-gqa", "llama-moe4"])
        {
            foreach (QuantizationPreset p in QuantizationPresets.All)
            {
                data.Add(model, QuantizationPresets.GetName(p));
            }
        }

        return data;
    }

    /// <summary>With the same importance data (as llama-imatrix would collect: every matrix but the token embeddings), every preset, the low-bit ones too.</summary>
    [Theory]
    [MemberData(nameof(EveryPresetWithImportance))]
    public void Every_preset_with_importance_writes_llama_cpps_file(string modelName, string presetName)
    {
        Dictionary<string, float[]> importance = ImportanceFor(Models[modelName]);
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        AssertSameFile(modelName, presetName, options: new ModelQuantizationOptions { Threads = 2, Importance = importance },
                       oracle: (input, output) => Assert.Equal(0u, LlamaQuantize.Quantize(input, output, (int)preset.Value, threads: 2, importance: importance)));
    }

    [Theory]
    [InlineData("IQ2_XXS")]
    [InlineData("IQ1_S")]
    [InlineData("Q2_K_S")]
    [InlineData("IQ3_XS")]
    public void Presets_that_need_importance_are_refused_without_it_naming_the_tensor(string presetName)
    {
        LlamaQuantizeOracleTests.RequireOracle();
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        string input = Path.Combine(_dir, "llama.gguf"), output = Path.Combine(_dir, "out.gguf");
        Models["llama"].Write(input);
        Assert.NotEqual(0u, LlamaQuantize.Quantize(input, output, (int)preset.Value));
        using GgufFile source = GgufFile.Open(input);
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(source, output, new QuantizationRecipe(preset.Value),
                                                                                         cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("blk.", ex.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    /// <summary>Deterministic positive importance for every matrix but the token embeddings, one row per expert.</summary>
    internal static Dictionary<string, float[]> ImportanceFor(SyntheticModel model)
    {
        var random = new Random(model.Seed + 100);
        var importance = new Dictionary<string, float[]>();
        foreach ((string name, long[] dims, bool matrix) in model.Tensors())
        {
            if (matrix && name != "token_embd.weight")
            {
                var values = new float[dims[0] * (dims.Length > 2 ? dims[2] : 1)];
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(random.NextDouble() * random.NextDouble() * 4);
                }

                importance[name] = values;
            }
        }

        return importance;
    }

    /// <summary>llama-quantize's options: --pure, --leave-output-tensor, --output-tensor-type, --token-embedding-type, --tensor-type.</summary>
    [Theory]
    [InlineData("llama", "Q4_K_M", "pure")]
    [InlineData("llama-224", "Q4_K_M", "pure")]
    [InlineData("llama", "Q4_K_M", "leave-output")]
    [InlineData("llama", "Q3_K_M", "output-q8_0")]
    [InlineData("gemma", "Q4_K_M", "output-q5_K")]
    [InlineData("gemma", "Q4_K_M", "embedding-q8_0")]
    [InlineData("llama", "Q5_K_M", "embedding-q4_0")]
    [InlineData("llama", "Q4_K_M", "tensor-types")]
    [InlineData("llama-moe4", "MXFP4_MOE", "tensor-types")]
    [InlineData("llama-224", "Q4_K_M", "tensor-types")]
    public void Recipe_options_write_llama_cpps_file(string modelName, string presetName, string option)
    {
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        (string Pattern, QuantType Type)[] overrides = [(@"attn_q\.weight", QuantType.Q8_0), ("ffn_(up|gate)", QuantType.IQ4_NL), ("blk\\.1\\.", QuantType.Q5_0)];
        var recipe = option switch
        {
            "pure" => new QuantizationRecipe(preset.Value) { Pure = true },
            "leave-output" => new QuantizationRecipe(preset.Value) { LeaveOutputTensor = true },
            "output-q8_0" => new QuantizationRecipe(preset.Value) { OutputTensorType = QuantType.Q8_0 },
            "output-q5_K" => new QuantizationRecipe(preset.Value) { OutputTensorType = QuantType.Q5_K },
            "embedding-q8_0" => new QuantizationRecipe(preset.Value) { TokenEmbeddingType = QuantType.Q8_0 },
            "embedding-q4_0" => new QuantizationRecipe(preset.Value) { TokenEmbeddingType = QuantType.Q4_0 },
            _ => new QuantizationRecipe(preset.Value) { TensorTypes = [.. overrides.Select(o => new TensorTypeOverride(o.Pattern, o.Type))] },
        };
        AssertSameFile(modelName, presetName + "-" + option, recipe, (input, output) => Assert.Equal(0u, LlamaQuantize.Quantize(
            input, output, (int)preset.Value, threads: 2,
            outputTensorType: recipe.OutputTensorType is QuantType o ? (int)o : -1,
            tokenEmbeddingType: recipe.TokenEmbeddingType is QuantType e ? (int)e : -1,
            leaveOutputTensor: recipe.LeaveOutputTensor, pure: recipe.Pure,
            tensorTypes: option == "tensor-types" ? [.. overrides.Select(o => (o.Pattern, (int)o.Type))] : null)));
    }

    private void AssertSameFile(string modelName, string presetName, QuantizationRecipe? recipe = null, Action<string, string>? oracle = null,
                                ModelQuantizationOptions? options = null)
    {
        LlamaQuantizeOracleTests.RequireOracle();
        Assert.True(QuantizationPresets.TryParse(presetName.Split('-')[0], out QuantizationPreset? preset));
        SyntheticModel model = Models[modelName];
        string input = Path.Combine(_dir, $"{modelName}.gguf");
        if (!File.Exists(input))
        {
            model.Write(input);
        }

        string expected = Path.Combine(_dir, $"{modelName}-{presetName}-llama.gguf"), actual = Path.Combine(_dir, $"{modelName}-{presetName}-ours.gguf");
        if (oracle is null)
        {
            Assert.Equal(0u, LlamaQuantize.Quantize(input, expected, (int)preset.Value, threads: 2));
        }
        else
        {
            oracle(input, expected);
        }

        using (GgufFile source = GgufFile.Open(input))
        {
            ModelQuantizer.Quantize(source, actual, recipe ?? new QuantizationRecipe(preset.Value), options ?? new ModelQuantizationOptions { Threads = 2 },
                                    cancellationToken: TestContext.Current.CancellationToken);
        }

        AssertSameGguf(expected, actual, $"{modelName} {presetName}");
        GoldenPresets.Check(modelName, presetName, options?.Importance is not null, expected);
    }

    /// <summary>Byte equality, with a readable first difference (tensor name and types) when they differ.</summary>
    internal static void AssertSameGguf(string expectedPath, string actualPath, string what)
    {
        byte[] expected = File.ReadAllBytes(expectedPath), actual = File.ReadAllBytes(actualPath);
        if (expected.AsSpan().SequenceEqual(actual))
        {
            return;
        }

        using GgufFile e = GgufFile.Open(expectedPath), a = GgufFile.Open(actualPath);
        Assert.Equal(e.Metadata.Select(kv => kv.Key), a.Metadata.Select(kv => kv.Key));
        Assert.Equal(e.Tensors.Select(t => $"{t.Name} {t.Type} [{t.ShapeText}]"), a.Tensors.Select(t => $"{t.Name} {t.Type} [{t.ShapeText}]"));
        foreach (GgufTensorInfo t in e.Tensors)
        {
            Assert.True(e.GetTensorData(t).SequenceEqual(a.GetTensorData(a.GetTensor(t.Name))), $"{what}: tensor {t.Name} ({t.Type}) differs");
        }

        Assert.Fail($"{what}: the files differ ({expected.Length} vs {actual.Length} bytes) outside tensor data.");
    }
}
