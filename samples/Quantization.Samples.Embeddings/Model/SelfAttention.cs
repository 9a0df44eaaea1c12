using System.Numerics.Tensors;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// Multi-head self-attention over one sequence, without a mask: a single sentence has no padding, and BERT's encoder
/// lets every token see every other.
/// </summary>
internal static class SelfAttention
{
    /// <summary>
    /// context[i, head] = Σⱼ softmax(q[i, head] · k[j, head] / √d)ⱼ · v[j, head], for every head of size d.
    /// </summary>
    /// <param name="query">Tokens × hidden, row-major.</param>
    /// <param name="key">Tokens × hidden.</param>
    /// <param name="value">Tokens × hidden.</param>
    /// <param name="context">Tokens × hidden, written.</param>
    /// <param name="scores">Scratch of at least <paramref name="tokens"/> values.</param>
    public static void Run(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> context,
                           Span<float> scores, int tokens, int heads, int headSize)
    {
        int hidden = heads * headSize;
        // The export divides the scores by √d (a constant) rather than scaling q: the same here, for the same floats.
        float scale = MathF.Sqrt(headSize);
        scores = scores[..tokens];
        for (int h = 0; h < heads; h++)
        {
            int offset = h * headSize;
            for (int i = 0; i < tokens; i++)
            {
                ReadOnlySpan<float> q = query.Slice((i * hidden) + offset, headSize);
                for (int j = 0; j < tokens; j++)
                {
                    scores[j] = TensorPrimitives.Dot(q, key.Slice((j * hidden) + offset, headSize)) / scale;
                }

                TensorPrimitives.SoftMax(scores, scores);
                Span<float> c = context.Slice((i * hidden) + offset, headSize);
                c.Clear();
                for (int j = 0; j < tokens; j++)
                {
                    TensorPrimitives.MultiplyAdd(value.Slice((j * hidden) + offset, headSize), scores[j], c, c);
                }
            }
        }
    }
}
