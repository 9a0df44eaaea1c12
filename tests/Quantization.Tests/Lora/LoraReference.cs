using Quantization.Lora;

namespace Quantization.Tests.Lora;

/// <summary>Naive references for the LoRA tests, written from the definitions and independent of the library's loops.</summary>
internal static class LoraReference
{
    /// <summary>One adapter given as plain row-major A (r × in) and B (out × r), and its total factor.</summary>
    public sealed record Factors(float[] A, float[] B, int Rank, int Inputs, int Outputs, double Factor);

    public static Factors Random(ulong seed, int rank, int inputs, int outputs, double factor, double sigma = 0.05)
    {
        float[] a = Support.TestData.Gaussian(seed, rank * inputs, sigma);
        float[] b = Support.TestData.Gaussian(seed + 1000, outputs * rank, sigma);
        return new Factors(a, b, rank, inputs, outputs, factor);
    }

    /// <summary>ΔW·x in double: Σ factor · B·(A·x).</summary>
    public static double[] DeltaTimes(IEnumerable<Factors> adapters, ReadOnlySpan<float> x, int outputs)
    {
        var y = new double[outputs];
        foreach (Factors f in adapters)
        {
            var t = new double[f.Rank];
            for (int k = 0; k < f.Rank; k++)
            {
                for (int j = 0; j < f.Inputs; j++)
                {
                    t[k] += (double)f.A[k * f.Inputs + j] * x[j];
                }
            }

            for (int o = 0; o < outputs; o++)
            {
                double s = 0;
                for (int k = 0; k < f.Rank; k++)
                {
                    s += (double)f.B[o * f.Rank + k] * t[k];
                }

                y[o] += f.Factor * s;
            }
        }

        return y;
    }

    /// <summary>W·x in double over dequantized weights.</summary>
    public static double[] DenseTimes(float[] w, int rows, int columns, ReadOnlySpan<float> x)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int c = 0; c < columns; c++)
            {
                s += (double)w[r * columns + c] * x[c];
            }

            y[r] = s;
        }

        return y;
    }

    /// <summary>
    /// The merged row as the documented float32 order gives it: delta = Σₖ B[o,k]·A[k] (k ascending, each product
    /// rounded), then w + factor·delta.
    /// </summary>
    public static float[] MergedFloat(float[] w, Factors f, float factor)
    {
        var result = (float[])w.Clone();
        var delta = new float[f.Inputs];
        for (int o = 0; o < f.Outputs; o++)
        {
            Array.Clear(delta);
            for (int k = 0; k < f.Rank; k++)
            {
                float b = f.B[o * f.Rank + k];
                for (int j = 0; j < f.Inputs; j++)
                {
                    float product = f.A[k * f.Inputs + j] * b;
                    delta[j] = delta[j] + product;
                }
            }

            for (int j = 0; j < f.Inputs; j++)
            {
                float product = delta[j] * factor;
                result[o * f.Inputs + j] = result[o * f.Inputs + j] + product;
            }
        }

        return result;
    }

    public static LoraAdapter ToAdapter(Factors f, float scaling) => new(f.A, f.B, f.Rank, f.Inputs, f.Outputs, scaling);
}
