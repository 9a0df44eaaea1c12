using FastBertTokenizer;
using Quantization.Gguf;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// WordPiece tokenization for the model (lower-cased, as its vocabulary is), with FastBertTokenizer over the vocabulary
/// stored in the GGUF, so the encoder needs no other file.
/// </summary>
public sealed class ArcticTokenizer
{
    /// <summary>The longest input the model takes, [CLS] and [SEP] included.</summary>
    public const int MaxTokens = 512;

    private readonly BertTokenizer _tokenizer = new();

    public ArcticTokenizer(IReadOnlyList<string> vocabulary)
    {
        using var reader = new StringReader(string.Join('\n', vocabulary));
        _tokenizer.LoadVocabulary(reader, convertInputToLowercase: true);
    }

    public static ArcticTokenizer FromGguf(GgufFile file) => new(file.GetArray<string>("tokenizer.ggml.tokens"));

    /// <summary>[CLS], the text's word pieces, [SEP]; cut to <see cref="MaxTokens"/>.</summary>
    public long[] Encode(string text)
    {
        (Memory<long> ids, Memory<long> mask, _) = _tokenizer.Encode(text, MaxTokens);
        int length = mask.Span.IndexOf(0L);
        return ids[..(length < 0 ? ids.Length : length)].ToArray();
    }
}
