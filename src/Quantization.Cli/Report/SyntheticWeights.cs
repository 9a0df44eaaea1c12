namespace Quantization.Cli.Report;

/// <summary>
/// The report's embedded test matrix: transformer-like weights, N(0, 0.02²) with about 0.1% outliers 20 times larger,
/// from a seeded SplitMix64 stream. Only IEEE-exact operations (+ − × ÷) turn the stream into floats, so a seed gives the
/// same matrix on every machine and runtime, and the same values as the tests' <c>TestData.TransformerLike</c>.
/// </summary>
internal static class SyntheticWeights
{
    /// <summary>Standard deviation of the bulk of the weights.</summary>
    public const double Sigma = 0.02;

    /// <summary>Probability that a weight is an outlier.</summary>
    public const double OutlierProbability = 0.001;

    /// <summary>How much larger an outlier is than a regular weight.</summary>
    public const double OutlierScale = 20;

    /// <summary>One line describing the distribution, for report headers.</summary>
    public const string Description = "N(0, 0.02^2) with ~0.1% outliers x20";

    /// <summary>Fills a new array with <paramref name="count"/> weights drawn from <paramref name="seed"/>.</summary>
    public static float[] TransformerLike(ulong seed, int count)
    {
        var rng = new SplitMix64(seed);
        var x = new float[count];
        for (int i = 0; i < x.Length; i++)
        {
            double v = rng.NextGaussian() * Sigma;
            if (rng.NextDouble() < OutlierProbability)
            {
                v *= OutlierScale;
            }

            x[i] = (float)v;
        }

        return x;
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood), with the seed spread over the state first.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed * 0x9E3779B97F4A7C15UL + 0xD1B54A32D192ED03UL;

        public ulong NextUInt64()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1), 53 random bits.</summary>
        public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Approximately standard normal: the Irwin–Hall sum of 12 uniforms, minus 6 (exact arithmetic, no libm).</summary>
        public double NextGaussian()
        {
            double s = 0;
            for (int i = 0; i < 12; i++)
            {
                s += NextDouble();
            }

            return s - 6.0;
        }
    }
}
