using Quantization.Formats;
using Quantization.Oracle;
using Quantization.Tests.Conformance;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>
/// IQ4_NL's second quantizer, <c>quantize_row_iq4_nl_ref</c> (ntry = −1, no scale search), which
/// <c>ggml_quantize_chunk</c> does not use: checked against docs/testing.md#published-hashes and against the exported native function.
/// </summary>
public sealed class IQ4ReferenceTests
{
    [Fact]
    public void RefHashesEqualPublishedReference()
    {
        float[] x = TestData.GgmlGenerateData(0f, 4096);
        var bytes = new byte[Quantizer.GetByteCount(QuantType.IQ4_NL, x.Length)];
        IQ4_NLReference.QuantizeRowRef(x, bytes);
        Assert.Equal("6e31591628c1c24e", GoldenHashes.Format(Fnv.Hash(bytes)));
        Assert.Equal("25a4f0a32b0f4dc5f0c1390f2ea7f1e0", Convert.ToHexStringLower(bytes, 0, 16));

        var y = new float[x.Length];
        Quantizer.Dequantize(QuantType.IQ4_NL, bytes, y);
        Assert.Equal("83dcd9b2d6c1f5b8", GoldenHashes.Format(Fnv.Hash(y)));
    }

    [Fact]
    public void XsFirstBytesEqualPublishedReference()
    {
        float[] x = TestData.GgmlGenerateData(0f, 4096);
        var bytes = new byte[Quantizer.GetByteCount(QuantType.IQ4_XS, x.Length)];
        Quantizer.Quantize(QuantType.IQ4_XS, x, bytes, 4096);
        Assert.Equal("4010000011112021f0a32c0f4dd5f0c1", Convert.ToHexStringLower(bytes, 0, 16));
    }

    public static TheoryData<string> Datasets() => [.. ConformanceCase.Datasets];

    [Theory]
    [MemberData(nameof(Datasets))]
    public void RefEqualsNativeRef(string dataset)
    {
        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
        if (!GgmlNative.IsByteReference)
        {
            return;
        }

        float[] x = new ConformanceCase(QuantType.IQ4_NL, dataset, 1, 4096, "none").Source();

        // ggml's code array is uninitialised before the first block: give the first block a value above 1e-15 so
        // that every later block below it copies defined codes (the stale-L quirk) in both implementations.
        x[0] = 1f;
        var ours = new byte[Quantizer.GetByteCount(QuantType.IQ4_NL, x.Length)];
        IQ4_NLReference.QuantizeRowRef(x, ours);
        byte[] theirs = GgmlNative.QuantizeRowRef("iq4_nl", (int)QuantType.IQ4_NL, x);
        AssertBytes.Equal(theirs, ours, QuantType.IQ4_NL);
    }
}
