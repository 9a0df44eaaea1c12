using Quantization.Calibration;

namespace Quantization.Tests.Calibration;

/// <summary>A synthetic linear layer and its calibration inputs, and the output error every method is measured by.</summary>
internal sealed class CalibrationLayer
{
    public const int Columns = 512;

    public int Rows { get; }

    public int Samples { get; }

    public float[] Weights { get; }

    /// <summary>Samples × Columns: correlated through 24 shared factors plus noise, with 8 outlier channels 20 times larger.</summary>
    public float[] Activations { get; }

    public ActivationStatistics Statistics { get; }

    public CalibrationLayer(int rows = 64, int samples = 256, int seed = 7)
    {
        Rows = rows;
        Samples = samples;
        Weights = new float[rows * Columns];
        Activations = new float[samples * Columns];
        var random = new Random(seed);
        const int factors = 24;
        var mixing = new float[factors * Columns];
        for (int i = 0; i < mixing.Length; i++)
        {
            mixing[i] = Gaussian(random);
        }

        var outliers = new HashSet<int>();
        while (outliers.Count < 8)
        {
            outliers.Add(random.Next(Columns));
        }

        var z = new float[factors];
        for (int s = 0; s < Samples; s++)
        {
            for (int k = 0; k < factors; k++)
            {
                z[k] = Gaussian(random);
            }

            for (int j = 0; j < Columns; j++)
            {
                float x = 0.3f * Gaussian(random);
                for (int k = 0; k < factors; k++)
                {
                    x += z[k] * mixing[k * Columns + j] * 0.2f;
                }

                Activations[s * Columns + j] = outliers.Contains(j) ? 20 * x : x;
            }
        }

        for (int i = 0; i < Weights.Length; i++)
        {
            Weights[i] = 0.02f * Gaussian(random);
        }

        Statistics = new ActivationStatistics(Columns);
        Statistics.Add(Activations);
    }

    private static float Gaussian(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    /// <summary>‖X·Wᵀ − X·Ŵᵀ‖² over the calibration inputs, written out in double.</summary>
    public double OutputError(ReadOnlySpan<float> restored)
    {
        double total = 0;
        var diff = new double[Columns];
        for (int r = 0; r < Rows; r++)
        {
            for (int j = 0; j < Columns; j++)
            {
                diff[j] = (double)Weights[r * Columns + j] - restored[r * Columns + j];
            }

            for (int s = 0; s < Samples; s++)
            {
                double y = 0;
                for (int j = 0; j < Columns; j++)
                {
                    y += Activations[s * Columns + j] * diff[j];
                }

                total += y * y;
            }
        }

        return total;
    }

    public static bool IsCalibratable(QuantFormat f) =>
        f.CanQuantize && f.CanDequantize && f.TrailerBytes == 0 && Columns % f.BlockSize == 0;

    public static IEnumerable<QuantType> SupportedTypes =>
        QuantFormat.All.Where(IsCalibratable).Select(f => f.Type);
}
