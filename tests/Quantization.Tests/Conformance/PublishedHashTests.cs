using Quantization.Tests.Support;

namespace Quantization.Tests.Conformance;

/// <summary>
/// The FNV-1a hashes of ggml's reference quantizers on test-quantize-fns' data (docs/testing.md#published-hashes):
/// a check of our bytes that needs no native library.
/// </summary>
public sealed class PublishedHashTests
{
    private static readonly float[] s_data = TestData.GgmlGenerateData(0f, 4096);

    [Fact]
    public void InputMatchesGgmlGenerateData() =>
        Assert.Equal("14d3c17c7bd5a2fe", GoldenHashes.Format(Fnv.Hash(s_data)));

    [Theory]
    [InlineData(QuantType.Q4_0, "587537d858d68f93", "4612d0bc2edfc766", "d01dac1527106ffa")]
    [InlineData(QuantType.Q4_1, "3452304eaa153417", "332607d495c7fa46", "7a718059cc966e4f")]
    [InlineData(QuantType.Q5_0, "08629286070d7afe", "fb95100c5ebf3d66", "73cabff29f290c07")]
    [InlineData(QuantType.Q5_1, "7cfe8fe3328b96a7", "94a1fcbcc381d5b4", "a1b46a09dd2b5ffc")]
    [InlineData(QuantType.Q8_0, "bb90e4b547141063", "bb90e4b547141063", "5400e80929d3b11b")]
    [InlineData(QuantType.Q8_1, "081921c5185a9f04", null, null)]
    [InlineData(QuantType.Q4_K, "db0399b3eba7e05f", "8ee9a64cbaa7c225", "ffd376ae9aecbc17")]
    [InlineData(QuantType.Q5_K, "e4bc9578f48792bb", "9eff6d448a73382f", "1bcf9dd4107b6bbf")]
    [InlineData(QuantType.Q2_K, "a0fdea3b57983a7f", "beafbb51e2edc9f4", "b92ae80e7ebc3343")]
    [InlineData(QuantType.Q3_K, "f88969a7a4e54739", "3305522752af704c", "0545f84866deeb08")]
    [InlineData(QuantType.Q6_K, "e6900f8b360bcbf5", "7e08cccd20e18df5", "df1f4dcab3475474")]
    // IQ4_NL: Quantize is ggml_quantize_chunk (ntry = 7), whose hash docs/testing.md#published-hashes gives apart from the ref's; the ref
    // (ntry = −1) and its dequantized hash are checked in IQ4ReferenceTests.
    [InlineData(QuantType.IQ4_NL, "908a3b96b4063901", "1802bee05574e7d1", null)]
    [InlineData(QuantType.IQ4_XS, "7f7e48378467da97", "bd57c1cecba58798", "3295c5923eca89aa")]
    public void HashesEqualPublishedReference(QuantType type, string refHash, string? imatHash, string? deqHash)
    {
        var bytes = new byte[Quantizer.GetByteCount(type, s_data.Length)];
        Quantizer.Quantize(type, s_data, bytes, 4096);
        Assert.Equal(refHash, GoldenHashes.Format(Fnv.Hash(bytes)));

        if (deqHash is not null)
        {
            var y = new float[s_data.Length];
            Quantizer.Dequantize(type, bytes, y);
            Assert.Equal(deqHash, GoldenHashes.Format(Fnv.Hash(y)));
        }

        if (imatHash is not null)
        {
            var importance = new float[256];
            for (int i = 0; i < importance.Length; i++)
            {
                importance[i] = 1 + (i % 7);
            }

            var imat = new byte[bytes.Length];
            Quantizer.Quantize(type, s_data, imat, 256, importance);
            Assert.Equal(imatHash, GoldenHashes.Format(Fnv.Hash(imat)));
        }
    }
}
