namespace Quantization.Lora;

/// <summary>
/// Maps a PEFT state dictionary onto adapters: <c>base_model.model.&lt;module&gt;.lora_A.weight</c> (r × in) and
/// <c>.lora_B.weight</c> (out × r) become the adapter of the base weight <c>&lt;module&gt;.weight</c>; embedding
/// layers' <c>lora_embedding_A</c> (r × vocab) and <c>lora_embedding_B</c> (embd × r), whose delta PEFT transposes,
/// are turned around to the same outputs × inputs orientation. Other tensors (full weights saved beside the adapter)
/// are not adapters and are left alone.
/// </summary>
internal static class PeftLoraReader
{
    private const string Prefix = "base_model.model.";

    private static readonly (string Suffix, bool IsA, bool IsEmbedding)[] s_suffixes =
    [
        (".lora_A.weight", true, false),
        (".lora_B.weight", false, false),
        (".lora_embedding_A", true, true),
        (".lora_embedding_B", false, true),
    ];

    public static LoraAdapterSet Read(PeftLoraConfig config, ILoraTensorSource tensors)
    {
        var pairs = new Dictionary<string, (string? A, string? B, bool Embedding)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (string name in tensors.TensorNames)
        {
            foreach ((string suffix, bool isA, bool isEmbedding) in s_suffixes)
            {
                if (!name.EndsWith(suffix, StringComparison.Ordinal))
                {
                    continue;
                }

                string module = name[..^suffix.Length];
                module = module.StartsWith(Prefix, StringComparison.Ordinal) ? module[Prefix.Length..] : module;
                if (!pairs.TryGetValue(module, out var pair))
                {
                    order.Add(module);
                }
                else if (pair.Embedding != isEmbedding || (isA ? pair.A : pair.B) is not null)
                {
                    throw new InvalidDataException($"Module '{module}' has more than one LoRA {(isA ? "A" : "B")} tensor.");
                }

                pairs[module] = isA ? (name, pair.B, isEmbedding) : (pair.A, name, isEmbedding);
                break;
            }
        }

        var adapters = new List<KeyValuePair<string, LoraAdapter>>(order.Count);
        foreach (string module in order)
        {
            (string? a, string? b, bool embedding) = pairs[module];
            if (a is null || b is null)
            {
                throw new InvalidDataException($"Module '{module}' has a LoRA {(a is null ? "B" : "A")} tensor but no {(a is null ? "A" : "B")} tensor.");
            }

            if (!config.Targets(module))
            {
                throw new InvalidDataException($"Module '{module}' has LoRA tensors but is not in the configuration's target_modules.");
            }

            adapters.Add(new(module + ".weight", ReadPair(config, tensors, module, a, b, embedding)));
        }

        return new LoraAdapterSet(adapters);
    }

    private static LoraAdapter ReadPair(PeftLoraConfig config, ILoraTensorSource tensors, string module, string aName, string bName, bool embedding)
    {
        LoraSourceTensor a = Get(tensors, aName), b = Get(tensors, bName);
        if (a.Shape.Count != 2 || b.Shape.Count != 2)
        {
            throw new InvalidDataException($"'{aName}' {Shape(a)} and '{bName}' {Shape(b)} must both be 2-D (convolution adapters are not supported).");
        }

        // Linear: A is r × in, B is out × r. Embedding: A is r × vocab, B is embd × r.
        int rank = a.Shape[0];
        if (rank <= 0 || b.Shape[1] != rank || a.Shape[1] <= 0 || b.Shape[0] <= 0)
        {
            throw new InvalidDataException($"'{aName}' {Shape(a)} and '{bName}' {Shape(b)} do not give one positive rank (A must be r × in, B out × r).");
        }

        int expected = config.GetRank(module);
        if (rank != expected)
        {
            throw new InvalidDataException($"Module '{module}' has rank {rank} in its tensors but {expected} in the configuration.");
        }

        float scaling = config.GetScaling(module);
        float[] aValues = Read(a, aName), bValues = Read(b, bName);
        if (!embedding)
        {
            return new LoraAdapter(aValues, bValues, rank, a.Shape[1], b.Shape[0], scaling);
        }

        // PEFT's embedding delta is (B·A)ᵀ, vocab × embd: as outputs × inputs, B' = Aᵀ (vocab × r) and A' = Bᵀ (r × embd).
        int vocab = a.Shape[1], embd = b.Shape[0];
        return new LoraAdapter(LoraKernels.Transpose(bValues, embd, rank), LoraKernels.Transpose(aValues, rank, vocab), rank, embd, vocab, scaling);
    }

    private static LoraSourceTensor Get(ILoraTensorSource tensors, string name) =>
        tensors.TryGetTensor(name, out LoraSourceTensor? t) ? t : throw new InvalidDataException($"The tensor source lists '{name}' but does not return it.");

    private static float[] Read(LoraSourceTensor tensor, string name)
    {
        var values = new float[tensor.ElementCount];
        tensor.CopyTo(values);
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new InvalidDataException($"'{name}' holds a NaN or infinite value.");
            }
        }

        return values;
    }

    private static string Shape(LoraSourceTensor t) => "[" + string.Join(", ", t.Shape) + "]";
}
