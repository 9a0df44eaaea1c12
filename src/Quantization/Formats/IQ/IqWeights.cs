namespace Quantization.Formats;

/// <summary>
/// The per-value weights every IQ1–IQ3 lattice search starts from (ggml's <c>quantize_row_iq*_impl</c>), in ggml's float
/// order: the super-block's Σx², then per sub-block w = qw·√(σ² + x²) with importance (x² without) and √w.
/// </summary>
internal static class IqWeights
{
    /// <summary>Σ x² in order.</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x)
    {
        float sum = 0;
        for (int i = 0; i < x.Length; ++i)
        {
            sum += x[i] * x[i];
        }

        return sum;
    }

    /// <summary>
    /// <paramref name="weight"/>[i] = qw[i]·√(σ² + x[i]²), or x[i]² when <paramref name="importance"/> is empty;
    /// <paramref name="rootWeight"/>[i] = √weight[i]. All spans have <paramref name="x"/>'s length.
    /// </summary>
    public static void Fill(ReadOnlySpan<float> x, ReadOnlySpan<float> importance, float sigma2, Span<float> weight, Span<float> rootWeight)
    {
        if (!importance.IsEmpty)
        {
            for (int i = 0; i < x.Length; ++i)
            {
                weight[i] = importance[i] * MathF.Sqrt(sigma2 + x[i] * x[i]);
            }
        }
        else
        {
            for (int i = 0; i < x.Length; ++i)
            {
                weight[i] = x[i] * x[i];
            }
        }

        for (int i = 0; i < x.Length; ++i)
        {
            rootWeight[i] = MathF.Sqrt(weight[i]);
        }
    }
}
