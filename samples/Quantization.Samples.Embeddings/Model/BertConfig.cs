using Quantization.Gguf;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>The hyper-parameters of a BERT encoder, read from the GGUF metadata the converter writes.</summary>
public sealed record BertConfig(int Layers, int Hidden, int Heads, int FeedForward, int MaxPositions, float LayerNormEpsilon)
{
    public int HeadSize => Hidden / Heads;

    public static BertConfig FromGguf(GgufFile file) => new(
        Layers: (int)file.GetUInt32("bert.block_count"),
        Hidden: (int)file.GetUInt32("bert.embedding_length"),
        Heads: (int)file.GetUInt32("bert.attention.head_count"),
        FeedForward: (int)file.GetUInt32("bert.feed_forward_length"),
        MaxPositions: (int)file.GetUInt32("bert.context_length"),
        LayerNormEpsilon: file.GetFloat32("bert.attention.layer_norm_epsilon"));
}
