using Quantization.Gguf;

namespace Quantization.Models;

/// <summary>
/// What llama.cpp's quantization rules read from a model: the architecture, layer, head and expert counts, and the
/// tensors. Read one from a GGUF file (<see cref="FromGguf"/>) or describe a shape without weights (<see cref="Llama"/>).
/// </summary>
public sealed class ModelDescription
{
    /// <summary>Creates a description.</summary>
    /// <exception cref="ArgumentException">A count is negative, or the layer count is not positive.</exception>
    public ModelDescription(string architecture, int layerCount, int headCount, int kvHeadCount, int expertCount, IReadOnlyList<ModelTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layerCount);
        ArgumentOutOfRangeException.ThrowIfNegative(headCount);
        ArgumentOutOfRangeException.ThrowIfNegative(kvHeadCount);
        ArgumentOutOfRangeException.ThrowIfNegative(expertCount);
        Architecture = architecture;
        LayerCount = layerCount;
        HeadCount = headCount;
        KvHeadCount = kvHeadCount;
        ExpertCount = expertCount;
        Tensors = tensors;
    }

    /// <summary>The value of <c>general.architecture</c> (e.g. "llama", "falcon").</summary>
    public string Architecture { get; }

    /// <summary><c>&lt;arch&gt;.block_count</c>.</summary>
    public int LayerCount { get; }

    /// <summary><c>&lt;arch&gt;.attention.head_count</c> (of the first layer).</summary>
    public int HeadCount { get; }

    /// <summary><c>&lt;arch&gt;.attention.head_count_kv</c> (of the first layer; the head count when absent).</summary>
    public int KvHeadCount { get; }

    /// <summary><c>&lt;arch&gt;.expert_count</c> (0 when absent).</summary>
    public int ExpertCount { get; }

    /// <summary>The tensors, in file order.</summary>
    public IReadOnlyList<ModelTensor> Tensors { get; }

    /// <summary>Query heads per key/value head (llama.cpp's <c>n_gqa</c>; 0 without key/value heads).</summary>
    public int GroupedQueryRatio => KvHeadCount == 0 ? 0 : HeadCount / KvHeadCount;

    /// <summary>Whether llama.cpp sizes this model as LLaMA-2 70B (80 layers of llama with grouped-query attention), which moves attention values up.</summary>
    public bool Is70B => Architecture == "llama" && LayerCount == 80 && HeadCount != KvHeadCount;

    /// <summary>Reads the description of a GGUF model.</summary>
    /// <exception cref="InvalidDataException">The architecture or its block count is missing or of the wrong type.</exception>
    public static ModelDescription FromGguf(GgufFile model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.TryGetValue(GgufConstants.ArchitectureKey, out GgufValue? arch) || arch.Type != GgufValueType.String)
        {
            throw new InvalidDataException($"The model has no string '{GgufConstants.ArchitectureKey}'.");
        }

        string a = arch.AsString();
        int layers = ReadCount(model, $"{a}.block_count", required: true, fallback: 0);
        if (layers <= 0)
        {
            throw new InvalidDataException($"'{a}.block_count' must be positive, not {layers}.");
        }

        int heads = ReadCount(model, $"{a}.attention.head_count", required: false, fallback: 0);
        int kvHeads = ReadCount(model, $"{a}.attention.head_count_kv", required: false, fallback: heads);
        int experts = ReadCount(model, $"{a}.expert_count", required: false, fallback: 0);
        ModelTensor[] tensors = [.. model.Tensors.Select(t => new ModelTensor(t.Name, t.Dimensions, t.Type))];
        return new ModelDescription(a, layers, heads, kvHeads, experts, tensors);
    }

    /// <summary>An integer key that may be a scalar of any integer type or a per-layer array (the first element counts).</summary>
    private static int ReadCount(GgufFile model, string key, bool required, int fallback)
    {
        if (!model.TryGetValue(key, out GgufValue? value))
        {
            return required ? throw new InvalidDataException($"The model has no '{key}'.") : fallback;
        }

        GgufValueType type = value.IsArray ? value.ElementType : value.Type;
        if (value.IsArray && value.Count == 0)
        {
            return fallback;
        }

        long n = type switch
        {
            GgufValueType.UInt8 => value.IsArray ? value.AsArray<byte>()[0] : value.AsUInt8(),
            GgufValueType.Int8 => value.IsArray ? value.AsArray<sbyte>()[0] : value.AsInt8(),
            GgufValueType.UInt16 => value.IsArray ? value.AsArray<ushort>()[0] : value.AsUInt16(),
            GgufValueType.Int16 => value.IsArray ? value.AsArray<short>()[0] : value.AsInt16(),
            GgufValueType.UInt32 => value.IsArray ? value.AsArray<uint>()[0] : value.AsUInt32(),
            GgufValueType.Int32 => value.IsArray ? value.AsArray<int>()[0] : value.AsInt32(),
            GgufValueType.UInt64 => (long)Math.Min(value.IsArray ? value.AsArray<ulong>()[0] : value.AsUInt64(), int.MaxValue),
            GgufValueType.Int64 => value.IsArray ? value.AsArray<long>()[0] : value.AsInt64(),
            _ => throw new InvalidDataException($"'{key}' is {value.Type}; an integer was expected."),
        };
        if (n < 0 || n > int.MaxValue)
        {
            throw new InvalidDataException($"'{key}' is {n}; a count was expected.");
        }

        return (int)n;
    }

    /// <summary>
    /// The tensor shapes of a LLaMA-family model without weights (F16 matrices, F32 norms): for plans and size
    /// estimates. <see cref="Llama7B"/> … <see cref="Llama70B"/> are the usual ones.
    /// </summary>
    public static ModelDescription Llama(int layers, int embedding, int feedForward, int heads, int kvHeads, int vocab, QuantType source = QuantType.F16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(embedding);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(feedForward);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocab);
        long kv = (long)embedding / heads * kvHeads;
        var tensors = new List<ModelTensor> { new("token_embd.weight", [embedding, vocab], source) };
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            tensors.Add(new(b + "attn_norm.weight", [embedding], QuantType.F32));
            tensors.Add(new(b + "attn_q.weight", [embedding, embedding], source));
            tensors.Add(new(b + "attn_k.weight", [embedding, kv], source));
            tensors.Add(new(b + "attn_v.weight", [embedding, kv], source));
            tensors.Add(new(b + "attn_output.weight", [embedding, embedding], source));
            tensors.Add(new(b + "ffn_norm.weight", [embedding], QuantType.F32));
            tensors.Add(new(b + "ffn_gate.weight", [embedding, feedForward], source));
            tensors.Add(new(b + "ffn_up.weight", [embedding, feedForward], source));
            tensors.Add(new(b + "ffn_down.weight", [feedForward, embedding], source));
        }

        tensors.Add(new("output_norm.weight", [embedding], QuantType.F32));
        tensors.Add(new("output.weight", [embedding, vocab], source));
        return new ModelDescription("llama", layers, heads, kvHeads, 0, tensors);
    }

    /// <summary>LLaMA-2 7B: 32 layers, 4096 wide, 11008 feed-forward, 32 heads, vocabulary 32000.</summary>
    public static ModelDescription Llama7B => Llama(32, 4096, 11008, 32, 32, 32000);

    /// <summary>LLaMA-2 13B: 40 layers, 5120 wide, 13824 feed-forward, 40 heads, vocabulary 32000.</summary>
    public static ModelDescription Llama13B => Llama(40, 5120, 13824, 40, 40, 32000);

    /// <summary>Code Llama 34B: 48 layers, 8192 wide, 22016 feed-forward, 64 heads over 8 key/value heads, vocabulary 32000.</summary>
    public static ModelDescription Llama34B => Llama(48, 8192, 22016, 64, 8, 32000);

    /// <summary>LLaMA-2 70B: 80 layers, 8192 wide, 28672 feed-forward, 64 heads over 8 key/value heads, vocabulary 32000.</summary>
    public static ModelDescription Llama70B => Llama(80, 8192, 28672, 64, 8, 32000);
}
