namespace Quantization.Samples.Embeddings.Model;

/// <summary>The GGUF tensor names of a BERT model, as llama.cpp's converter writes them.</summary>
public static class BertNames
{
    public const string TokenEmbedding = "token_embd.weight";
    public const string PositionEmbedding = "position_embd.weight";
    public const string TokenTypeEmbedding = "token_types.weight";
    public const string EmbeddingNormWeight = "token_embd_norm.weight";
    public const string EmbeddingNormBias = "token_embd_norm.bias";

    /// <summary>The six weight matrices of a layer, in the order a forward pass uses them.</summary>
    public static readonly string[] LayerMatrices = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down"];

    public static string Layer(int layer, string role) => $"blk.{layer}.{role}";
}
