using Quantization.Checkpoints;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>GPTQ layers packed by a port of auto-gptq's pack, read back against a naive reference; hand-built cases; bad input.</summary>
public sealed class GptqMatrixTests
{
    public static TheoryData<int, int, bool, bool> Cases()
    {
        var data = new TheoryData<int, int, bool, bool>();
        foreach (int bits in new[] { 2, 3, 4, 8 })
        {
            foreach (int group in new[] { 32, 128, -1 })
            {
                data.Add(bits, group, false, false);
                data.Add(bits, group, true, false);
            }

            data.Add(bits, 64, false, true);
            data.Add(bits, 64, true, true);
        }

        return data;
    }

    private static (GptqMatrix Matrix, GroupIntReference Reference) Build(int bits, int group, bool v2, bool actOrder, int inFeatures = 256, int outFeatures = 64)
    {
        var reference = GroupIntReference.Create((ulong)(bits * 1000 + group + (v2 ? 7 : 0) + (actOrder ? 13 : 0)), bits, inFeatures, outFeatures, group, actOrder);
        uint[] qweight = ProducerPacking.GptqPackWeight(reference.Codes, inFeatures, outFeatures, bits);
        uint[] qzeros = ProducerPacking.GptqPackZeros(reference.Zeros, reference.Groups, outFeatures, bits, subtractOne: !v2);
        var config = new GptqConfig(bits, group, actOrder, symmetric: false, v2 ? GptqCheckpointFormat.GptqV2 : GptqCheckpointFormat.Gptq);
        var matrix = new GptqMatrix(config, inFeatures, outFeatures, GroupIntReference.Bytes(qweight), GroupIntReference.Bytes(qzeros),
                                    GroupIntReference.Bytes(reference.Scales), GroupIntReference.Bytes(reference.GIdx));
        return (matrix, reference);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DequantizeEqualsTheReferenceAndProductsMatch(int bits, int group, bool v2, bool actOrder)
    {
        (GptqMatrix matrix, GroupIntReference reference) = Build(bits, group, v2, actOrder);
        Assert.Equal(64, matrix.Rows);
        Assert.Equal(256, matrix.Columns);
        Assert.Equal(actOrder, matrix.IsActOrder);
        var w = new float[64 * 256];
        matrix.Dequantize(w);
        Assert.Equal(reference.Dequantized, w);

        const int batch = 3;
        float[] x = TestData.Gaussian(99, batch * 256, 1.0);
        var y = new float[batch * 64];
        matrix.MatVecAccurate(x.AsSpan(0, 256), y.AsSpan(0, 64), maxDegreeOfParallelism: 1);
        GroupIntReference.AssertProduct(reference.Dequantized, 64, 256, x, y, 1);
        Array.Clear(y);
        matrix.MatMulAccurate(x, y, batch);
        GroupIntReference.AssertProduct(reference.Dequantized, 64, 256, x, y, batch);

        int groupLength = group == -1 ? 256 : group;
        Array.Clear(y);
        matrix.MatVec(x.AsSpan(0, 256), y.AsSpan(0, 64), maxDegreeOfParallelism: 1);
        GroupIntReference.AssertFastProduct(reference, groupLength, x, y, 1);
        Array.Clear(y);
        matrix.MatMul(x, y, batch);
        GroupIntReference.AssertFastProduct(reference, groupLength, x, y, batch);

        Assert.Equal(!actOrder, matrix.TryGetScheme(out QuantScheme scheme, out ReadOnlyMemory<byte> bytes));
        if (!actOrder)
        {
            Assert.True(scheme.HasZeroPoints);
            var fromScheme = new float[w.Length];
            SchemeQuantizer.Dequantize(scheme, bytes.Span, 64, 256, fromScheme);
            Assert.Equal(reference.Dequantized, fromScheme);
        }
    }

    /// <summary>32 inputs × 8 outputs, 4 bits, one group: every qweight word 0x76543210 (input i has code i mod 8).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HandBuiltFourBitLayer(bool v2)
    {
        var qweight = new uint[4 * 8];
        Array.Fill(qweight, 0x76543210u);
        uint[] qzeros = [0x76543210u]; // stored zero of output o is o
        var scales = new ushort[8];
        Array.Fill(scales, BitConverter.HalfToUInt16Bits((Half)0.5f));
        scales[1] = BitConverter.HalfToUInt16Bits((Half)2f);
        var matrix = new GptqMatrix(new GptqConfig(4, 32, format: v2 ? GptqCheckpointFormat.GptqV2 : GptqCheckpointFormat.Gptq), 32, 8,
                                    GroupIntReference.Bytes(qweight), GroupIntReference.Bytes(qzeros), GroupIntReference.Bytes(scales));
        var w = new float[8 * 32];
        matrix.Dequantize(w);
        var y = new float[8];
        float[] ones = Enumerable.Repeat(1f, 32).ToArray();
        matrix.MatVec(ones, y);
        if (v2)
        {
            // zero of output o is o: W[0,0] = (0 − 0)·0.5, W[0,7] = 7·0.5, W[1,3] = (3 − 1)·2, W[7,0] = −7·0.5, W[7,15] = 0
            Assert.Equal([0f, 3.5f, 4f, -3.5f, 0f], new[] { w[0], w[7], w[32 + 3], w[7 * 32], w[7 * 32 + 15] });
            // y[o] = scale · (4 · 28 − 32 · o)
            Assert.Equal([56f, 160f, 24f, -56f], new[] { y[0], y[1], y[2], y[7] });
        }
        else
        {
            // auto-gptq adds 1: zero of output o is o + 1
            Assert.Equal([-0.5f, 3f, 2f, -4f, -0.5f], new[] { w[0], w[7], w[32 + 3], w[7 * 32], w[7 * 32 + 15] });
            Assert.Equal([40f, 96f, 8f, -72f], new[] { y[0], y[1], y[2], y[7] });
        }
    }

    /// <summary>3 bits, 32 inputs × 32 outputs: input i of every output has code i mod 8, so the 96-bit column streams are hand-written words.</summary>
    [Fact]
    public void HandBuiltThreeBitStream()
    {
        // codes 0,1,…,7,0,1,… as a 3-bit little-endian stream: 24 bits 0xFAC688 repeat (0 1 2 3 4 5 6 7 = 000 001 010 … 111).
        // word 0: bits 0–23 = 0xFAC688, bits 24–31 = the next codes 0, 1, 2 (bit 30–31 = low bits of code 2) → 0x88FAC688 | …
        uint[] column = [0x88FAC688u, 0xC688FAC6u, 0xFAC688FAu];
        var qweight = new uint[3 * 32];
        for (int k = 0; k < 3; k++)
        {
            Array.Fill(qweight, column[k], k * 32, 32);
        }

        var qzeros = new uint[3]; // all stored zeros 0 in v2: zero 0
        var scales = new ushort[32];
        Array.Fill(scales, BitConverter.HalfToUInt16Bits((Half)1f));
        var matrix = new GptqMatrix(new GptqConfig(3, -1, format: GptqCheckpointFormat.GptqV2), 32, 32,
                                    GroupIntReference.Bytes(qweight), GroupIntReference.Bytes(qzeros), GroupIntReference.Bytes(scales));
        var w = new float[32 * 32];
        matrix.Dequantize(w);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(i % 8, w[5 * 32 + i]);
        }
    }

    [Fact]
    public void BadShapesAndTensorsAreRejected()
    {
        var config = new GptqConfig(4, 32);
        byte[] qweight = new byte[4 * 8 * 4];
        byte[] qzeros = new byte[4];
        byte[] scales = new byte[16];
        Assert.Throws<ArgumentOutOfRangeException>("inFeatures", () => new GptqMatrix(config, 48, 8, qweight, qzeros, scales));
        Assert.Throws<ArgumentOutOfRangeException>("outFeatures", () => new GptqMatrix(config, 32, 4, qweight, qzeros, scales));
        Assert.Throws<ArgumentException>("qweight", () => new GptqMatrix(config, 32, 8, qweight.AsSpan(1), qzeros, scales));
        Assert.Throws<ArgumentException>("qzeros", () => new GptqMatrix(config, 32, 8, qweight, new byte[8], scales));
        Assert.Throws<ArgumentException>("scales", () => new GptqMatrix(config, 32, 8, qweight, qzeros, new byte[32]));
        Assert.Throws<ArgumentException>("gIdx", () => new GptqMatrix(config, 32, 8, qweight, qzeros, scales, new byte[4]));
        Assert.Throws<ArgumentException>("config", () => new GptqMatrix(new GptqConfig(4, 8), 32, 8, qweight, new byte[16], new byte[64]));
        Assert.Throws<ArgumentException>("inFeatures", () => new GptqMatrix(new GptqConfig(4, 48), 32, 8, qweight, qzeros, scales));
        Assert.Throws<ArgumentNullException>("config", () => new GptqMatrix(null!, 32, 8, qweight, qzeros, scales));

        int[] outOfRange = new int[32];
        outOfRange[3] = 1;
        Assert.Throws<InvalidDataException>(() => new GptqMatrix(config, 32, 8, qweight, qzeros, scales, GroupIntReference.Bytes(outOfRange)));
        int[] unbalanced = Enumerable.Range(0, 64).Select(i => i < 40 ? 0 : 1).ToArray();
        Assert.Throws<InvalidDataException>(() => new GptqMatrix(config, 64, 8, new byte[8 * 8 * 4], new byte[8], new byte[32], GroupIntReference.Bytes(unbalanced)));

        // auto-gptq's v1 adds 1 to a stored 8-bit zero of 255: 256 has no byte
        uint[] zeros8 = Enumerable.Repeat(0xFFFFFFFFu, 2).ToArray();
        Assert.Throws<InvalidDataException>(() => new GptqMatrix(new GptqConfig(8, -1), 32, 8, new byte[8 * 8 * 4], GroupIntReference.Bytes(zeros8), new byte[16]));
    }

    [Fact]
    public void ProductLengthsAreChecked()
    {
        (GptqMatrix matrix, _) = Build(4, 64, false, true);
        Assert.Throws<ArgumentException>("x", () => matrix.MatVec(new float[255], new float[64]));
        Assert.Throws<ArgumentException>("y", () => matrix.MatVec(new float[256], new float[63]));
        Assert.Throws<ArgumentOutOfRangeException>("maxDegreeOfParallelism", () => matrix.MatVec(new float[256], new float[64], 0));
        Assert.Throws<ArgumentException>("destination", () => matrix.Dequantize(new float[10]));
    }
}
