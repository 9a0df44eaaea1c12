using System.Globalization;
using System.Text.RegularExpressions;
using Quantization.Gguf;

namespace Quantization.Lora;

/// <summary>
/// Renames a PEFT adapter set (Hugging Face module names, <c>model.layers.N.self_attn.q_proj.weight</c>) to the GGUF tensor
/// names of a base model converted by llama.cpp (<c>blk.N.attn_q.weight</c>), so that it can be applied to or merged
/// into the GGUF model. For the <c>llama</c> architecture llama.cpp's converter reorders the rows of every head of the
/// query and key projections (the rotary halves interleaved); the adapters' B rows are reordered the same way, as its
/// LoRA converter does.
/// </summary>
public static partial class GgufLoraNames
{
    /// <summary>The architectures whose Hugging Face layer names map as below (llama.cpp writes the same GGUF names).</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3"];

    private static readonly Dictionary<string, string> s_layerModules = new(StringComparer.Ordinal)
    {
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    };

    /// <summary>
    /// The adapters of <paramref name="peft"/> under the GGUF names of <paramref name="baseModel"/>'s architecture
    /// (<c>general.architecture</c>; head counts from <c>&lt;arch&gt;.attention.head_count(_kv)</c>).
    /// </summary>
    /// <exception cref="InvalidDataException">The architecture has no known mapping, a module has none, or a head count is missing or does not divide the rows.</exception>
    public static LoraAdapterSet ToGguf(LoraAdapterSet peft, GgufFile baseModel)
    {
        ArgumentNullException.ThrowIfNull(peft);
        ArgumentNullException.ThrowIfNull(baseModel);
        string architecture = baseModel.TryGetValue(GgufConstants.ArchitectureKey, out GgufValue? arch) && arch.Type == GgufValueType.String
            ? arch.AsString()
            : throw new InvalidDataException("The base model has no general.architecture.");
        if (!Architectures.Contains(architecture))
        {
            throw new InvalidDataException($"Hugging Face module names map to GGUF names for {string.Join(", ", Architectures)}; the base model is '{architecture}'.");
        }

        bool permute = architecture == "llama";
        int heads = permute ? HeadCount(baseModel, architecture + ".attention.head_count", null) : 0;
        int kvHeads = permute ? HeadCount(baseModel, architecture + ".attention.head_count_kv", heads) : 0;
        var renamed = new List<KeyValuePair<string, LoraAdapter>>();
        foreach ((string name, LoraAdapter adapter) in peft)
        {
            (string ggufName, string? projection) = Map(name);
            LoraAdapter mapped = (permute, projection) switch
            {
                (true, "attn_q") => PermuteRows(adapter, heads, ggufName),
                (true, "attn_k") => PermuteRows(adapter, kvHeads, ggufName),
                _ => adapter,
            };
            renamed.Add(new(ggufName, mapped));
        }

        return new LoraAdapterSet(renamed, architecture);
    }

    /// <summary>The GGUF name of a Hugging Face weight, and the projection it is (for the row reordering).</summary>
    private static (string Name, string? Projection) Map(string name)
    {
        string module = name.EndsWith(".weight", StringComparison.Ordinal) ? name[..^".weight".Length] : name;
        if (module.StartsWith("model.language_model.", StringComparison.Ordinal))
        {
            module = "model." + module["model.language_model.".Length..]; // a multimodal wrapper (gemma3)
        }

        switch (module)
        {
            case "model.embed_tokens":
                return ("token_embd.weight", null);
            case "lm_head":
                return ("output.weight", null);
        }

        Match m = LayerModule().Match(module);
        if (m.Success && s_layerModules.TryGetValue(m.Groups[2].Value, out string? projection))
        {
            return ($"blk.{m.Groups[1].Value}.{projection}.weight", projection);
        }

        throw new InvalidDataException($"The adapter's module '{name}' has no known GGUF name.");
    }

    private static int HeadCount(GgufFile model, string key, int? fallback)
    {
        if (model.TryGetValue(key, out GgufValue? value) && value.TryGetUnsigned(out ulong count) && count is > 0 and <= int.MaxValue)
        {
            return (int)count;
        }

        return fallback ?? throw new InvalidDataException($"The base model has no usable '{key}'.");
    }

    /// <summary>
    /// B's rows in llama.cpp's order: per head of d rows, row h·d + 2j + t comes from row h·d + t·d/2 + j (the two rotary
    /// halves interleaved). A is unchanged: the reordering is of the outputs.
    /// </summary>
    private static LoraAdapter PermuteRows(LoraAdapter adapter, int heads, string name)
    {
        int rows = adapter.OutputSize;
        if (rows % heads != 0 || rows / heads % 2 != 0)
        {
            throw new InvalidDataException($"'{name}': {rows} rows do not split into {heads} heads of an even size.");
        }

        int d = rows / heads, rank = adapter.Rank;
        var b = new float[rows * rank];
        for (int h = 0; h < heads; h++)
        {
            for (int j = 0; j < d / 2; j++)
            {
                for (int t = 0; t < 2; t++)
                {
                    int target = h * d + 2 * j + t, source = h * d + t * (d / 2) + j;
                    for (int k = 0; k < rank; k++)
                    {
                        b[target * rank + k] = adapter.GetB(source, k);
                    }
                }
            }
        }

        return new LoraAdapter(adapter.A, b, rank, adapter.InputSize, rows, adapter.Scaling);
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)$", RegexOptions.CultureInvariant)]
    private static partial Regex LayerModule();
}
