namespace Quantization.Samples.Embeddings.Model;

/// <summary>Buffers a forward pass reuses from sentence to sentence, grown to the longest sentence seen.</summary>
internal sealed class EncoderScratch
{
    public float[] Query = [], Key = [], Value = [], Context = [], Projected = [], Intermediate = [], Scores = [];

    public void EnsureCapacity(int tokens, BertConfig config)
    {
        int hiddenRows = tokens * config.Hidden;
        if (Query.Length >= hiddenRows)
        {
            return;
        }

        Query = new float[hiddenRows];
        Key = new float[hiddenRows];
        Value = new float[hiddenRows];
        Context = new float[hiddenRows];
        Projected = new float[hiddenRows];
        Intermediate = new float[tokens * config.FeedForward];
        Scores = new float[tokens];
    }
}

/// <summary>
/// One post-norm BERT layer: x = LN(x + Attention(x)·Woᵀ + bo); x = LN(x + GELU(x·Wupᵀ + bup)·Wdownᵀ + bdown).
/// Every product with a weight goes through the library's <see cref="IWeightMatrix"/>.
/// </summary>
internal sealed class EncoderLayer(LayerWeights weights, BertConfig config, int layerIndex)
{
    private readonly string[] _names = [.. BertNames.LayerMatrices.Select(m => BertNames.Layer(layerIndex, m + ".weight"))];

    /// <param name="hidden">Tokens × hidden, updated in place.</param>
    public void Forward(Span<float> hidden, int tokens, EncoderScratch s, IActivationRecorder? recorder, int maxDegreeOfParallelism)
    {
        int h = config.Hidden;
        int rows = tokens * h;
        Span<float> q = s.Query.AsSpan(0, rows), k = s.Key.AsSpan(0, rows), v = s.Value.AsSpan(0, rows);
        Span<float> context = s.Context.AsSpan(0, rows), projected = s.Projected.AsSpan(0, rows);
        Span<float> intermediate = s.Intermediate.AsSpan(0, tokens * config.FeedForward);

        Project(weights.Query, _names[0], hidden, q, weights.QueryBias, tokens, recorder, maxDegreeOfParallelism);
        Project(weights.Key, _names[1], hidden, k, weights.KeyBias, tokens, recorder, maxDegreeOfParallelism);
        Project(weights.Value, _names[2], hidden, v, weights.ValueBias, tokens, recorder, maxDegreeOfParallelism);
        SelfAttention.Run(q, k, v, context, s.Scores, tokens, config.Heads, config.HeadSize);

        Project(weights.Output, _names[3], context, projected, weights.OutputBias, tokens, recorder, maxDegreeOfParallelism);
        AddInPlace(hidden[..rows], projected);
        Activations.LayerNorm(hidden[..rows], weights.AttentionNormWeight, weights.AttentionNormBias, config.LayerNormEpsilon);

        Project(weights.Up, _names[4], hidden, intermediate, weights.UpBias, tokens, recorder, maxDegreeOfParallelism);
        Activations.Gelu(intermediate);
        Project(weights.Down, _names[5], intermediate, projected, weights.DownBias, tokens, recorder, maxDegreeOfParallelism);
        AddInPlace(hidden[..rows], projected);
        Activations.LayerNorm(hidden[..rows], weights.OutputNormWeight, weights.OutputNormBias, config.LayerNormEpsilon);
    }

    // y = x·Wᵀ + b for every token row; the recorder sees x first.
    private static void Project(IWeightMatrix matrix, string name, ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> bias,
                                int tokens, IActivationRecorder? recorder, int maxDegreeOfParallelism)
    {
        ReadOnlySpan<float> input = x[..(tokens * matrix.Columns)];
        recorder?.Record(name, input, matrix.Columns);
        Span<float> output = y[..(tokens * matrix.Rows)];
        matrix.MatMul(input, output, tokens, maxDegreeOfParallelism);
        Activations.AddBias(output, bias);
    }

    private static void AddInPlace(Span<float> x, ReadOnlySpan<float> y) => System.Numerics.Tensors.TensorPrimitives.Add(x, y, x);
}
