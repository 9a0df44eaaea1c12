using System.Security.Cryptography;
using Quantization.Calibration;
using Quantization.Tests.Support;

namespace Quantization.Tests.Calibration;

/// <summary>
/// GPTQ's bytes, hashed, for inputs built from IEEE-exact operations only (TestData): the hashes were recorded on x64,
/// so every instruction-set tier and arm64 must reproduce them (docs/calibration.md#determinism).
/// </summary>
public sealed class GptqGoldenTests
{
    private const int Rows = 32, Columns = 512, Samples = 64;

    private static readonly Lazy<(float[] Weights, ActivationStatistics Statistics)> s_data = new(() =>
    {
        float[] w = TestData.TransformerLike(21, Rows * Columns);
        float[] noise = TestData.Gaussian(22, Samples * Columns, 1.0);
        float[] shared = TestData.Gaussian(23, Samples * (Columns / 8), 1.0);
        var x = new float[Samples * Columns];
        for (int s = 0; s < Samples; s++)
        {
            for (int j = 0; j < Columns; j++)
            {
                // Groups of eight neighbouring inputs share a component; every 64th input is an outlier.
                float v = noise[s * Columns + j] + 2 * shared[s * (Columns / 8) + j / 8];
                x[s * Columns + j] = j % 64 == 5 ? 16 * v : v;
            }
        }

        var statistics = new ActivationStatistics(Columns);
        statistics.Add(x);
        return (w, statistics);
    });

    [Theory]
    [InlineData(QuantType.Q4_K, "861a53146d6f1b83e72bfd3b2066a410")]
    [InlineData(QuantType.Q4_0, "e1da29e319c53788e8f2fbc33dd83eff")]
    [InlineData(QuantType.IQ4_XS, "0bd739dfe0f4adbbd2d51e7c6eedb50a")]
    [InlineData(QuantType.Q2_K, "10e78d920d0761fa4739f6185ffb91de")]
    [InlineData(QuantType.TQ1_0, "f8d174975b257c30f83a9b5aced93eab")]
    public void BytesMatchTheRecordedHash(QuantType type, string expected)
    {
        (float[] w, ActivationStatistics statistics) = s_data.Value;
        var bytes = new byte[Quantizer.GetByteCount(type, w.Length)];
        Gptq.Quantize(type, w, bytes, Rows, Columns, statistics);
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]);
    }
}
