namespace Quantization.Tests.Support;

/// <summary>
/// Deterministic test data. Only IEEE-exact operations (+ − × ÷ √) are used, so the same seed gives the same floats
/// on x64 and arm64; the golden hashes that the arm64 run checks depend on it.
/// </summary>
public sealed class TestRng(ulong seed)
{
    private ulong _state = seed * 0x9E3779B97F4A7C15UL + 0xD1B54A32D192ED03UL;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public int NextInt(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);

    /// <summary>Approximately standard normal (Irwin–Hall sum of 12 uniforms).</summary>
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

public static class TestData
{
    /// <summary>ggml's test-quantize-fns <c>generate_data</c>: 0.1 + 2·cosf(i + offset), the sum in double (x64 golden checks only).</summary>
    public static float[] GgmlGenerateData(float offset, int n)
    {
        var dst = new float[n];
        for (int i = 0; i < n; i++)
        {
            dst[i] = (float)(0.1 + 2 * MathF.Cos(i + offset));
        }

        return dst;
    }

    public static float[] Gaussian(ulong seed, int n, double sigma)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)(rng.NextGaussian() * sigma);
        }

        return x;
    }

    /// <summary>Gaussian / √uniform: a heavy tail with occasional very large values.</summary>
    public static float[] HeavyTailed(ulong seed, int n)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)(rng.NextGaussian() / Math.Sqrt(rng.NextDouble() + 1e-4));
        }

        return x;
    }

    /// <summary>Transformer-like weights: N(0, 0.02²) with about 0.1% outliers 20x larger.</summary>
    public static float[] TransformerLike(ulong seed, int n)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double v = rng.NextGaussian() * 0.02;
            if (rng.NextDouble() < 0.001)
            {
                v *= 20;
            }

            x[i] = (float)v;
        }

        return x;
    }

    /// <summary>Uniform in [lo, hi).</summary>
    public static float[] Uniform(ulong seed, int n, double lo, double hi)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        }

        return x;
    }

    /// <summary>
    /// Adversarial blocks, one pattern per 32 values, cycling through: zeros, signed zeros, constants, one outlier,
    /// exact rounding ties, alternating signs, values at and past the FP16 limits, FP16-subnormal and smaller values,
    /// equal-magnitude extremes of both signs, float subnormals, and a ramp.
    /// </summary>
    public static float[] Adversarial(ulong seed, int n)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int b = 0; b < n / 32; b++)
        {
            Span<float> block = x.AsSpan(b * 32, 32);
            int pattern = (b + (int)(seed % 17)) % 17;
            for (int j = 0; j < 32; j++)
            {
                double g = rng.NextGaussian();
                block[j] = pattern switch
                {
                    0 => 0f,
                    1 => (j % 3 == 0) ? -0f : 0f,
                    2 => 0.75f,
                    3 => -3.25f,
                    4 => j == 7 ? 100f : (float)(g * 0.01),
                    5 => (j - 16) * 0.5f,                           // halves: ties for every rounding rule
                    6 => (j % 2 == 0 ? 1 : -1) * (float)(1 + Math.Abs(g)),
                    7 => (float)(65504 - j * 3.5),                  // the FP16 max and just below
                    8 => (float)(g * 70000),                        // scales past the FP16 range
                    9 => (float)(g * 3e-5),                         // FP16-subnormal scales
                    10 => (float)(g * 1e-9),                        // below the FP16 subnormal range
                    11 => j == 3 ? 5f : j == 20 ? -5f : (float)(g * 0.1), // equal magnitude, both signs
                    12 => (float)(g * 1e-39),                       // float subnormals
                    13 => j * 0.125f - 2f,                          // ramp on an exact grid
                    14 => (float)Math.Round(g * 8) / 8,              // values on the Q4 grid
                    15 => (j % 4 == 0) ? (float)(g * 1e4) : (float)(g * 1e-4),
                    _ => (float)(g * 1e20),                         // huge but finite scales
                };
            }
        }

        return x;
    }

    /// <summary>Importance weights like an imatrix: positive, uneven, a few exact zeros.</summary>
    public static float[] Importance(ulong seed, int n, bool withZeros)
    {
        var rng = new TestRng(seed);
        var w = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble();
            w[i] = withZeros && u < 0.05 ? 0f : (float)(0.05 + 4 * u * u);
        }

        return w;
    }
}

/// <summary>FNV-1a 64-bit, the hash of docs/testing.md#published-hashes.</summary>
public static class Fnv
{
    public static ulong Hash(ReadOnlySpan<byte> data)
    {
        ulong h = 1469598103934665603UL;
        foreach (byte b in data)
        {
            h ^= b;
            h *= 1099511628211UL;
        }

        return h;
    }

    public static ulong Hash(ReadOnlySpan<float> data) => Hash(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
}
