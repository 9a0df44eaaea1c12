using Quantization.Checkpoints;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>AWQ GEMM layers packed by a port of AutoAWQ's from_linear, read back against a naive reference; a hand-built case; bad input.</summary>
public sealed class AwqMatrixTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(-1)]
    public void DequantizeEqualsTheReferenceAndProductsMatch(int group)
    {
        const int inFeatures = 256, outFeatures = 72;
        var reference = GroupIntReference.Create((ulong)(500 + group), 4, inFeatures, outFeatures, group, actOrder: false);
        int[] intweight = Array.ConvertAll(reference.Codes, c => (int)c); // [in, out]
        uint[] qweight = ProducerPacking.AwqPack(intweight, inFeatures, outFeatures);
        uint[] qzeros = ProducerPacking.AwqPack(reference.Zeros, reference.Groups, outFeatures);
        var matrix = new AwqMatrix(group, inFeatures, outFeatures, GroupIntReference.Bytes(qweight), GroupIntReference.Bytes(qzeros), GroupIntReference.Bytes(reference.Scales));
        Assert.Equal(outFeatures, matrix.Rows);
        Assert.Equal(inFeatures, matrix.Columns);
        var w = new float[outFeatures * inFeatures];
        matrix.Dequantize(w);
        Assert.Equal(reference.Dequantized, w);

        const int batch = 2;
        float[] x = TestData.Gaussian(7, batch * inFeatures, 1.0);
        var y = new float[batch * outFeatures];
        matrix.MatVecAccurate(x.AsSpan(0, inFeatures), y.AsSpan(0, outFeatures), 1);
        GroupIntReference.AssertProduct(reference.Dequantized, outFeatures, inFeatures, x, y, 1);
        matrix.MatMulAccurate(x, y, batch);
        GroupIntReference.AssertProduct(reference.Dequantized, outFeatures, inFeatures, x, y, batch);

        int groupLength = group == -1 ? inFeatures : group;
        Array.Clear(y);
        matrix.MatVec(x.AsSpan(0, inFeatures), y.AsSpan(0, outFeatures), 1);
        GroupIntReference.AssertFastProduct(reference, groupLength, x, y, 1);
        Array.Clear(y);
        matrix.MatMul(x, y, batch);
        GroupIntReference.AssertFastProduct(reference, groupLength, x, y, batch);

        QuantScheme scheme = matrix.GetScheme(out ReadOnlyMemory<byte> bytes);
        var fromScheme = new float[w.Length];
        SchemeQuantizer.Dequantize(scheme, bytes.Span, outFeatures, inFeatures, fromScheme);
        Assert.Equal(reference.Dequantized, fromScheme);
    }

    /// <summary>32 inputs × 8 outputs, one group: every qweight word 0x76543210, so nibble i (value i) holds output order[i].</summary>
    [Fact]
    public void HandBuiltLayerFollowsTheInterleavedOrder()
    {
        var qweight = new uint[32];
        Array.Fill(qweight, 0x76543210u);
        uint[] qzeros = [0x11111111u];
        var scales = new ushort[8];
        Array.Fill(scales, BitConverter.HalfToUInt16Bits((Half)1f));
        var matrix = new AwqMatrix(-1, 32, 8, GroupIntReference.Bytes(qweight), GroupIntReference.Bytes(qzeros), GroupIntReference.Bytes(scales));
        var w = new float[8 * 32];
        matrix.Dequantize(w);
        // outputs 0…7 have codes 0, 4, 1, 5, 2, 6, 3, 7; minus the zero point 1
        float[] expected = [-1, 3, 0, 4, 1, 5, 2, 6];
        for (int o = 0; o < 8; o++)
        {
            Assert.Equal(expected[o], w[o * 32]);
            Assert.Equal(expected[o], w[o * 32 + 31]);
        }

        var y = new float[8];
        matrix.MatVec(Enumerable.Repeat(1f, 32).ToArray(), y);
        Assert.Equal([-32f, 96f, 0f, 128f, 32f, 160f, 64f, 192f], y);
    }

    [Fact]
    public void BadShapesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>("outFeatures", () => new AwqMatrix(32, 32, 12, new byte[32 * 4], new byte[4], new byte[24]));
        Assert.Throws<ArgumentOutOfRangeException>("inFeatures", () => new AwqMatrix(32, 0, 8, default, default, default));
        Assert.Throws<ArgumentOutOfRangeException>("groupSize", () => new AwqMatrix(0, 32, 8, new byte[128], new byte[4], new byte[16]));
        Assert.Throws<ArgumentException>("inFeatures", () => new AwqMatrix(64, 96, 8, new byte[384], new byte[8], new byte[32]));
        Assert.Throws<ArgumentException>("groupSize", () => new AwqMatrix(8, 32, 8, new byte[128], new byte[16], new byte[64]));
        Assert.Throws<ArgumentException>("qweight", () => new AwqMatrix(32, 32, 8, new byte[127], new byte[4], new byte[16]));
        Assert.Throws<ArgumentException>("qzeros", () => new AwqMatrix(32, 32, 8, new byte[128], new byte[8], new byte[16]));
        Assert.Throws<ArgumentException>("scales", () => new AwqMatrix(32, 32, 8, new byte[128], new byte[4], new byte[17]));
    }
}
