namespace Quantization.Samples.Embeddings.Model;

/// <summary>Text in, embedding out: the tokenizer and the encoder together.</summary>
public sealed class SentenceEmbedder(ArcticTokenizer tokenizer, BertEncoder encoder)
{
    public ArcticTokenizer Tokenizer { get; } = tokenizer;

    public BertEncoder Encoder { get; } = encoder;

    public float[] Embed(string text) => Encoder.Embed(Tokenizer.Encode(text));
}
