namespace Quantization.Models;

/// <summary>
/// A model size people download, with the published dimensions of one representative model of that size: enough to
/// plan every preset on it (<see cref="Description"/>) and to size its key/value cache.
/// </summary>
public sealed class CommonModel
{
    /// <summary>Creates a LLaMA-form model size from its published dimensions.</summary>
    /// <param name="name">The size as people say it, e.g. "8B".</param>
    /// <param name="representative">The model whose dimensions these are, e.g. "Llama-3.1-8B".</param>
    /// <param name="layers">Transformer layers.</param>
    /// <param name="embedding">Hidden width.</param>
    /// <param name="feedForward">Feed-forward width.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="kvHeads">Key/value heads.</param>
    /// <param name="vocab">Vocabulary size.</param>
    /// <param name="tiedEmbeddings">Whether the output projection reuses the token embeddings (no <c>output.weight</c>).</param>
    /// <exception cref="ArgumentException">A name is empty, a count is not positive, or the width is no multiple of the heads.</exception>
    public CommonModel(string name, string representative, int layers, int embedding, int feedForward, int heads, int kvHeads, int vocab,
                       bool tiedEmbeddings = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(representative);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        if (embedding % heads != 0)
        {
            throw new ArgumentException($"The width {embedding} is no multiple of the {heads} heads.", nameof(heads));
        }

        ModelDescription shape = ModelDescription.Llama(layers, embedding, feedForward, heads, kvHeads, vocab);

        if (tiedEmbeddings)
        {
            // Tied models store no output matrix; llama.cpp's rules then give the token embeddings the output's type.
            shape = new ModelDescription(shape.Architecture, layers, heads, kvHeads, 0, [.. shape.Tensors.Where(t => t.Name != "output.weight")]);
        }

        Name = name;
        Representative = representative;
        Description = shape;
        HeadSize = embedding / heads;
        TiedEmbeddings = tiedEmbeddings;
        ParameterCount = shape.Tensors.Sum(t => t.ElementCount);
    }

    /// <summary>The size as people say it, e.g. "8B".</summary>
    public string Name { get; }

    /// <summary>The model whose published dimensions stand for the size, e.g. "Llama-3.1-8B".</summary>
    public string Representative { get; }

    /// <summary>The tensor shapes, for <see cref="QuantizationRecipe.CreatePlan"/>.</summary>
    public ModelDescription Description { get; }

    /// <summary>Transformer layers.</summary>
    public int LayerCount => Description.LayerCount;

    /// <summary>Key/value heads.</summary>
    public int KvHeadCount => Description.KvHeadCount;

    /// <summary>Values per attention head (width / heads).</summary>
    public int HeadSize { get; }

    /// <summary>Whether the output projection reuses the token embeddings.</summary>
    public bool TiedEmbeddings { get; }

    /// <summary>Parameters of every tensor.</summary>
    public long ParameterCount { get; }

    /// <summary>The key/value cache for <paramref name="contextLength"/> tokens in <paramref name="cacheType"/> (<see cref="KvCacheBytes.Compute"/>).</summary>
    public long GetKvCacheBytes(int contextLength, QuantType cacheType = QuantType.F16) =>
        KvCacheBytes.Compute(LayerCount, KvHeadCount, HeadSize, contextLength, cacheType);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Representative})";

    /// <summary>
    /// The sizes <see cref="QuantizationAdvisor"/> chooses from, smallest first: Llama-3.2-1B, Llama-3.2-3B, Llama-3.1-8B,
    /// Qwen2.5-14B, Qwen2.5-32B, Llama-3.1-70B and Mistral-Large-2 (123B), each with its published configuration.
    /// </summary>
    public static IReadOnlyList<CommonModel> All { get; } =
    [
        new("1B", "Llama-3.2-1B", layers: 16, embedding: 2048, feedForward: 8192, heads: 32, kvHeads: 8, vocab: 128256, tiedEmbeddings: true),
        new("3B", "Llama-3.2-3B", layers: 28, embedding: 3072, feedForward: 8192, heads: 24, kvHeads: 8, vocab: 128256, tiedEmbeddings: true),
        new("8B", "Llama-3.1-8B", layers: 32, embedding: 4096, feedForward: 14336, heads: 32, kvHeads: 8, vocab: 128256),
        new("14B", "Qwen2.5-14B", layers: 48, embedding: 5120, feedForward: 13824, heads: 40, kvHeads: 8, vocab: 152064),
        new("32B", "Qwen2.5-32B", layers: 64, embedding: 5120, feedForward: 27648, heads: 40, kvHeads: 8, vocab: 152064),
        new("70B", "Llama-3.1-70B", layers: 80, embedding: 8192, feedForward: 28672, heads: 64, kvHeads: 8, vocab: 128256),
        new("123B", "Mistral-Large-2", layers: 88, embedding: 12288, feedForward: 28672, heads: 96, kvHeads: 8, vocab: 32768),
    ];
}
