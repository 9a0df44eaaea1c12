namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// A BERT encoder over <see cref="EncoderWeights"/>: embeddings (word + position + token type) and layer norm, the
/// layers, then <see cref="Pooling"/>. One sentence at a time, so no attention mask or padding is needed.
/// Not thread-safe: it reuses its buffers; make one per thread.
/// </summary>
public sealed class BertEncoder
{
    private readonly EncoderWeights _weights;
    private readonly EncoderLayer[] _layers;
    private readonly EncoderScratch _scratch = new();
    private float[] _hidden = [];

    /// <param name="weights">The model.</param>
    /// <param name="maxDegreeOfParallelism">Threads for each matrix product; 1 (the default) runs on the calling thread.</param>
    public BertEncoder(EncoderWeights weights, int maxDegreeOfParallelism = 1)
    {
        _weights = weights;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
        _layers = [.. weights.Layers.Select((l, i) => new EncoderLayer(l, weights.Config, i))];
    }

    public BertConfig Config => _weights.Config;

    public int MaxDegreeOfParallelism { get; }

    /// <summary>Sees the input of every weight-matrix product, when set.</summary>
    public IActivationRecorder? Recorder { get; set; }

    /// <summary>The sentence embedding: pooled and L2-normalised final hidden states.</summary>
    public float[] Embed(ReadOnlySpan<long> tokenIds) =>
        Pooling.ClsNormalized(Encode(tokenIds), Config.Hidden);

    /// <summary>The final hidden states, tokens × hidden, valid until the next call.</summary>
    public ReadOnlySpan<float> Encode(ReadOnlySpan<long> tokenIds)
    {
        BertConfig c = Config;
        int tokens = tokenIds.Length;
        if (tokens == 0 || tokens > c.MaxPositions)
        {
            throw new ArgumentException($"{tokens} tokens; between 1 and {c.MaxPositions} are accepted.", nameof(tokenIds));
        }

        _scratch.EnsureCapacity(tokens, c);
        if (_hidden.Length < tokens * c.Hidden)
        {
            _hidden = new float[tokens * c.Hidden];
        }

        Span<float> hidden = _hidden.AsSpan(0, tokens * c.Hidden);
        EmbedTokens(tokenIds, hidden);
        foreach (EncoderLayer layer in _layers)
        {
            layer.Forward(hidden, tokens, _scratch, Recorder, MaxDegreeOfParallelism);
        }

        return hidden;
    }

    // word + token type (all 0: one segment) + position, in the export's order, then layer norm.
    private void EmbedTokens(ReadOnlySpan<long> tokenIds, Span<float> hidden)
    {
        int h = Config.Hidden;
        ReadOnlySpan<float> tokenType = _weights.TokenTypeEmbedding.AsSpan(0, h);
        for (int t = 0; t < tokenIds.Length; t++)
        {
            Span<float> row = hidden.Slice(t * h, h);
            System.Numerics.Tensors.TensorPrimitives.Add(_weights.TokenEmbedding(tokenIds[t]), tokenType, row);
            System.Numerics.Tensors.TensorPrimitives.Add(row, _weights.PositionEmbedding.AsSpan(t * h, h), row);
        }

        Activations.LayerNorm(hidden, _weights.EmbeddingNormWeight, _weights.EmbeddingNormBias, Config.LayerNormEpsilon);
    }
}
