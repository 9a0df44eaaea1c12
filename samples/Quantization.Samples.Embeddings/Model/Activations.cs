using System.Numerics.Tensors;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>The element-wise pieces of a BERT layer: layer norm, GELU, bias.</summary>
internal static class Activations
{
    /// <summary>Adds <paramref name="bias"/> to each row of <paramref name="rows"/>.</summary>
    public static void AddBias(Span<float> rows, ReadOnlySpan<float> bias)
    {
        for (int r = 0; r < rows.Length; r += bias.Length)
        {
            Span<float> row = rows.Slice(r, bias.Length);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>Layer norm of each row in place: (x − mean) / √(variance + ε) · weight + bias, variance without Bessel's correction.</summary>
    public static void LayerNorm(Span<float> rows, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float epsilon)
    {
        int n = weight.Length;
        for (int r = 0; r < rows.Length; r += n)
        {
            Span<float> row = rows.Slice(r, n);
            float mean = TensorPrimitives.Sum(row) / n;
            TensorPrimitives.Subtract(row, mean, row);
            float variance = TensorPrimitives.SumOfSquares(row) / n;
            TensorPrimitives.Multiply(row, 1f / MathF.Sqrt(variance + epsilon), row);
            TensorPrimitives.Multiply(row, weight, row);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>GELU in its exact (erf) form, as BERT: x · ½ · (1 + erf(x / √2)).</summary>
    public static void Gelu(Span<float> values)
    {
        foreach (ref float x in values)
        {
            x = (float)(x * 0.5 * (1.0 + Erf(x / Math.Sqrt(2.0))));
        }
    }

    /// <summary>
    /// The error function, which .NET lacks: the classic Chebyshev fit erfc(z) ≈ t · exp(−z² + P(t)), t = 1 / (1 + z/2),
    /// for z ≥ 0 (fractional error below 1.2·10⁻⁷), and erf(−x) = −erf(x). GELU needs 1 + erf(x), which this gives to
    /// about float precision.
    /// </summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + (0.5 * z));
        double p = -1.26551223 + (t * (1.00002368 + (t * (0.37409196 + (t * (0.09678418 + (t * (-0.18628806
            + (t * (0.27886807 + (t * (-1.13520398 + (t * (1.48851587 + (t * (-0.82215223 + (t * 0.17087277)))))))))))))))));
        double erfc = t * Math.Exp((-z * z) + p);
        return x >= 0 ? 1.0 - erfc : erfc - 1.0;
    }
}
