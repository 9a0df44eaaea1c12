using System.Numerics.Tensors;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>
/// How a sentence's token states become one embedding, as the package does it: the first ([CLS]) token's final hidden
/// state, divided by its L2 norm (at least 10⁻¹²).
/// </summary>
public static class Pooling
{
    public static float[] ClsNormalized(ReadOnlySpan<float> hiddenStates, int hidden)
    {
        float[] embedding = hiddenStates[..hidden].ToArray();
        float norm = MathF.Max(MathF.Sqrt(TensorPrimitives.SumOfSquares(embedding)), 1e-12f);
        TensorPrimitives.Multiply(embedding, 1f / norm, embedding);
        return embedding;
    }
}
