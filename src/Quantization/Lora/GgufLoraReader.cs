using Quantization.Gguf;

namespace Quantization.Lora;

/// <summary>
/// Reads llama.cpp's GGUF LoRA adapters: tensors <c>&lt;base&gt;.lora_a</c> (ggml shape [in, r]) and
/// <c>&lt;base&gt;.lora_b</c> ([r, out]) in any type that converts to float32, scaled by <c>adapter.lora.alpha</c> / r
/// when alpha is non-zero. The checks are llama.cpp's: the file type, both halves of every pair, A and B agreeing on r.
/// </summary>
internal static class GgufLoraReader
{
    public const string TypeKey = "general.type";
    public const string AdapterTypeKey = "adapter.type";
    public const string AlphaKey = "adapter.lora.alpha";
    public const string SuffixA = ".lora_a";
    public const string SuffixB = ".lora_b";

    public static LoraAdapterSet Read(GgufFile file)
    {
        string generalType = ReadString(file, TypeKey);
        if (generalType != "adapter")
        {
            throw new InvalidDataException($"{file.Source}: general.type is '{generalType}', not 'adapter'; this is not an adapter file.");
        }

        string adapterType = ReadString(file, AdapterTypeKey);
        if (adapterType != "lora")
        {
            throw new InvalidDataException($"{file.Source}: adapter.type is '{adapterType}', not 'lora'.");
        }

        float alpha = ReadAlpha(file);
        var pairs = new Dictionary<string, (GgufTensorInfo? A, GgufTensorInfo? B)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (GgufTensorInfo t in file.Tensors)
        {
            bool isA = t.Name.EndsWith(SuffixA, StringComparison.Ordinal);
            if (!isA && !t.Name.EndsWith(SuffixB, StringComparison.Ordinal))
            {
                if (t.Name.EndsWith("_norm.weight", StringComparison.Ordinal))
                {
                    continue; // norm vectors: llama.cpp ignores them too
                }

                throw new InvalidDataException($"{file.Source}: tensor '{t.Name}' is neither a .lora_a nor a .lora_b tensor.");
            }

            string name = t.Name[..^SuffixA.Length];
            if (!pairs.TryGetValue(name, out var pair))
            {
                order.Add(name);
            }

            pairs[name] = isA ? (t, pair.B) : (pair.A, t);
        }

        var adapters = new List<KeyValuePair<string, LoraAdapter>>(order.Count);
        foreach (string name in order)
        {
            (GgufTensorInfo? a, GgufTensorInfo? b) = pairs[name];
            if (a is null || b is null)
            {
                throw new InvalidDataException($"{file.Source}: the LoRA pair of '{name}' has no {(a is null ? SuffixA : SuffixB)} tensor.");
            }

            adapters.Add(new(name, ReadPair(file, name, a, b, alpha)));
        }

        string? architecture = file.TryGetValue(GgufConstants.ArchitectureKey, out GgufValue? arch) && arch.Type == GgufValueType.String ? arch.AsString() : null;
        return new LoraAdapterSet(adapters, architecture);
    }

    private static LoraAdapter ReadPair(GgufFile file, string name, GgufTensorInfo a, GgufTensorInfo b, float alpha)
    {
        if (a.Dimensions.Count != 2 || b.Dimensions.Count != 2)
        {
            throw new InvalidDataException($"{file.Source}: '{a.Name}' [{a.ShapeText}] and '{b.Name}' [{b.ShapeText}] must both be 2-D.");
        }

        long a0 = a.Dimensions[0], a1 = a.Dimensions[1], b0 = b.Dimensions[0], b1 = b.Dimensions[1];
        float[] aValues = ToFloat(file, a);
        float[] bValues = ToFloat(file, b);
        if (name.EndsWith("token_embd.weight", StringComparison.Ordinal))
        {
            // llama.cpp stores the embedding pair flipped (it gathers rows of A, then multiplies by B): lora_a is
            // [r, vocab] and lora_b is [r, embd], so the delta row of token v is Σₖ lora_a[v, k]·lora_b[·, k].
            // As outputs × inputs: B' = lora_a's rows (vocab × r), A' = lora_b transposed (r × embd).
            CheckRank(file, a, b, a0, b0);
            int rank = (int)a0, vocab = Checked(file, a, a1), embd = Checked(file, b, b1);
            return new LoraAdapter(LoraKernels.Transpose(bValues, embd, rank), aValues, rank, embd, vocab, LoraAdapter.GetGgufScaling(alpha, rank));
        }

        if (a1 != b0)
        {
            throw new InvalidDataException($"{file.Source}: '{a.Name}' [{a.ShapeText}] and '{b.Name}' [{b.ShapeText}] disagree on the rank (lora_a must be [in, r], lora_b [r, out]).");
        }

        CheckRank(file, a, b, a1, b0);
        int r = (int)a1, inputs = Checked(file, a, a0), outputs = Checked(file, b, b1);

        // ggml's [in, r] is r rows of `in` values: A as it is meant, row-major; likewise [r, out] is B (out × r).
        return new LoraAdapter(aValues, bValues, r, inputs, outputs, LoraAdapter.GetGgufScaling(alpha, r));
    }

    private static void CheckRank(GgufFile file, GgufTensorInfo a, GgufTensorInfo b, long rankA, long rankB)
    {
        if (rankA != rankB || rankA <= 0)
        {
            throw new InvalidDataException($"{file.Source}: '{a.Name}' [{a.ShapeText}] and '{b.Name}' [{b.ShapeText}] do not give one positive rank.");
        }
    }

    private static int Checked(GgufFile file, GgufTensorInfo t, long extent) =>
        extent is > 0 and <= int.MaxValue ? (int)extent : throw new InvalidDataException($"{file.Source}: '{t.Name}' [{t.ShapeText}] has an empty or oversized dimension.");

    private static float[] ToFloat(GgufFile file, GgufTensorInfo t)
    {
        if (t.ElementCount > Array.MaxLength)
        {
            throw new InvalidDataException($"{file.Source}: '{t.Name}' has {t.ElementCount} values, more than an adapter holds.");
        }

        var values = new float[t.ElementCount];
        Quantizer.Dequantize(t.Type, file.GetTensorData(t), values);
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new InvalidDataException($"{file.Source}: '{t.Name}' holds a NaN or infinite value.");
            }
        }

        return values;
    }

    private static string ReadString(GgufFile file, string key)
    {
        if (!file.TryGetValue(key, out GgufValue? value))
        {
            return "";
        }

        return value.Type == GgufValueType.String ? value.AsString() : throw new InvalidDataException($"{file.Source}: '{key}' is {value.Type}, not a string.");
    }

    private static float ReadAlpha(GgufFile file)
    {
        if (!file.TryGetValue(AlphaKey, out GgufValue? value))
        {
            return 0f; // llama.cpp: no alpha means the user's scale alone
        }

        float alpha = value.Type switch
        {
            GgufValueType.Float32 => value.AsFloat32(),
            GgufValueType.Float64 => (float)value.AsFloat64(),
            _ => throw new InvalidDataException($"{file.Source}: '{AlphaKey}' is {value.Type}, not a float."),
        };
        return float.IsFinite(alpha) ? alpha : throw new InvalidDataException($"{file.Source}: '{AlphaKey}' is {alpha}.");
    }
}
