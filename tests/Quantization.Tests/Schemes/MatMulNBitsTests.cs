using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Schemes;

/// <summary>MatMulNBits export and import, and ONNX Runtime itself running the exported arrays against <see cref="SchemeMath.MatVec"/>.</summary>
public sealed class MatMulNBitsTests
{
    public static TheoryData<int, int, bool, SchemeScaleType> Schemes => new()
    {
        { 4, 32, true, SchemeScaleType.F32 },
        { 4, 32, false, SchemeScaleType.F32 },
        { 4, 128, false, SchemeScaleType.F16 },
        { 2, 64, false, SchemeScaleType.F32 },
        { 2, 16, true, SchemeScaleType.BF16 },
        { 8, 32, false, SchemeScaleType.F32 },
        { 8, 256, true, SchemeScaleType.F32 },
        { 3, 32, false, SchemeScaleType.F32 },
    };

    private static (QuantScheme Scheme, byte[] Tensor) Quantized(int bits, int groupSize, bool symmetric, SchemeScaleType scaleType, int rows, int columns)
    {
        QuantScheme scheme = QuantScheme.Group(bits, groupSize, symmetric, scaleType);
        float[] w = TestData.TransformerLike((ulong)(bits * 1000 + groupSize), rows * columns);
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
        SchemeQuantizer.Quantize(scheme, w, rows, columns, tensor);
        return (scheme, tensor);
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public void ExportThenImportGivesTheSameBytes(int bits, int groupSize, bool symmetric, SchemeScaleType scaleType)
    {
        const int rows = 24, columns = 512;
        (QuantScheme scheme, byte[] tensor) = Quantized(bits, groupSize, symmetric, scaleType, rows, columns);
        MatMulNBitsWeights exported = MatMulNBitsWeights.Export(scheme, tensor, rows, columns);
        Assert.Equal((rows, columns, bits, groupSize), (exported.N, exported.K, exported.Bits, exported.BlockSize));
        Assert.Equal(rows * (columns / groupSize) * (groupSize * bits / 8), exported.B.Length);
        Assert.Equal(rows * (columns / groupSize), exported.Scales.Length);
        Assert.Equal(symmetric, exported.ZeroPoints is null);

        MatMulNBitsWeights rebuilt = MatMulNBitsWeights.Create(rows, columns, bits, groupSize, exported.B, exported.Scales, exported.ZeroPoints);
        Assert.Equal(scheme, rebuilt.ToScheme(scaleType));
        Assert.Equal(tensor, rebuilt.Import(scaleType));
    }

    [Fact]
    public void ZeroPointsArePackedLikeCodesAndFloatZeroPointsAreAccepted()
    {
        // One row, three blocks of 16 4-bit codes with zero points 1, 15, 6: packed per row, low nibble first: 0xF1, 0x06.
        const int rows = 1, columns = 48;
        QuantScheme scheme = QuantScheme.Group(4, 16, symmetric: false);
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
        int zeroOffset = tensor.Length - 3;
        tensor[zeroOffset] = 1;
        tensor[zeroOffset + 1] = 15;
        tensor[zeroOffset + 2] = 6;
        MatMulNBitsWeights exported = MatMulNBitsWeights.Export(scheme, tensor, rows, columns);
        Assert.Equal(new byte[] { 0xF1, 0x06 }, exported.ZeroPoints);

        MatMulNBitsWeights fromFloats = MatMulNBitsWeights.CreateWithFloatZeroPoints(rows, columns, 4, 16, exported.B, exported.Scales, [1f, 15f, 6f]);
        Assert.Equal(exported.ZeroPoints, fromFloats.ZeroPoints);
        Assert.Equal("zeroPoints", Assert.Throws<ArgumentException>(() =>
            MatMulNBitsWeights.CreateWithFloatZeroPoints(rows, columns, 4, 16, exported.B, exported.Scales, [1f, 15.5f, 6f])).ParamName);
        Assert.Equal("zeroPoints", Assert.Throws<ArgumentException>(() =>
            MatMulNBitsWeights.CreateWithFloatZeroPoints(rows, columns, 4, 16, exported.B, exported.Scales, [1f, 16f, 6f])).ParamName);
    }

    [Fact]
    public void SchemesWithoutAMatMulNBitsFormAndBadArraysAreRefused()
    {
        QuantScheme fp8 = QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Row);
        Assert.Equal("scheme", Assert.Throws<ArgumentException>(() => MatMulNBitsWeights.Export(fp8, new byte[2 * 64 + 8], 2, 64)).ParamName);
        QuantScheme group48 = QuantScheme.Group(4, 48);
        Assert.Equal("scheme", Assert.Throws<ArgumentException>(() =>
            MatMulNBitsWeights.Export(group48, new byte[SchemeQuantizer.GetByteCount(group48, 1, 96)], 1, 96)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => MatMulNBitsWeights.Create(2, 64, 4, 32, new byte[63], new float[4], null)).ParamName);
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => MatMulNBitsWeights.Create(2, 64, 4, 32, new byte[64], new float[3], null)).ParamName);
        Assert.Equal("zeroPoints", Assert.Throws<ArgumentException>(() => MatMulNBitsWeights.Create(2, 64, 4, 32, new byte[64], new float[4], new byte[3])).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentOutOfRangeException>(() => MatMulNBitsWeights.Create(2, 96, 4, 48, new byte[96], new float[4], null)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => MatMulNBitsWeights.Create(2, 80, 4, 32, new byte[80], new float[4], null)).ParamName);
        Assert.Equal("bits", Assert.Throws<ArgumentOutOfRangeException>(() => MatMulNBitsWeights.Create(2, 64, 1, 32, new byte[16], new float[4], null)).ParamName);
        var odd = MatMulNBitsWeights.Create(1, 32, 4, 32, new byte[16], [0.1f], null);
        Assert.Equal("scaleType", Assert.Throws<ArgumentException>(() => odd.Import(SchemeScaleType.F16)).ParamName);
    }

    /// <summary>
    /// ONNX Runtime's MatMulNBits (CPU) on a one-node model built from the exported arrays: its Y = A · dequant(B)ᵀ must agree
    /// with our MatVec, which proves the layout against the operator's real consumer.
    /// </summary>
    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 32, false)]
    [InlineData(4, 128, false)]
    [InlineData(2, 32, false)]
    [InlineData(8, 64, false)]
    [InlineData(8, 32, true)]
    public void OnnxRuntimeAgreesWithMatVec(int bits, int groupSize, bool symmetric)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Assert.Skip("ONNX Runtime's native library is loaded on x64 only; under arm64 emulation the MatMulNBits layout is checked by the export tests.");
        }

        const int rows = 40, columns = 256, batch = 2;
        (QuantScheme scheme, byte[] tensor) = Quantized(bits, groupSize, symmetric, SchemeScaleType.F32, rows, columns);
        MatMulNBitsWeights w = MatMulNBitsWeights.Export(scheme, tensor, rows, columns);
        var initializers = new List<OnnxModelWriter.Initializer>
        {
            new("B", OnnxModelWriter.UInt8, [w.N, w.KBlocks, w.BlobSize], w.B),
            new("scales", OnnxModelWriter.Float, [w.N * w.KBlocks], MemoryMarshal.AsBytes(w.Scales.AsSpan()).ToArray()),
        };
        var inputs = new List<string> { "A", "B", "scales" };
        if (w.ZeroPoints is not null)
        {
            initializers.Add(new("zero_points", OnnxModelWriter.UInt8, [w.N * w.ZeroPointRowBytes], w.ZeroPoints));
            inputs.Add("zero_points");
        }

        byte[] model = OnnxModelWriter.SingleNode("MatMulNBits", "com.microsoft", 1,
            [("K", columns), ("N", rows), ("bits", bits), ("block_size", groupSize)],
            [.. inputs], ("A", [batch, columns]), ("Y", [batch, rows]), [.. initializers]);

        float[] a = TestData.Gaussian(31, batch * columns, 1.0);
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(model, options);
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results =
            session.Run([NamedOnnxValue.CreateFromTensor("A", new DenseTensor<float>(a, [batch, columns]))]);
        float[] ort = [.. results.First().AsEnumerable<float>()];

        var ours = new float[batch * rows];
        SchemeMath.MatMul(scheme, tensor, rows, columns, a, ours, batch);
        var dequantized = new float[rows * columns];
        SchemeQuantizer.Dequantize(scheme, tensor, rows, columns, dequantized);
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double magnitude = 0;
                for (int c = 0; c < columns; c++)
                {
                    magnitude += Math.Abs((double)dequantized[r * columns + c] * a[b * columns + c]);
                }

                int i = b * rows + r;
                Assert.True(Math.Abs(ort[i] - ours[i]) <= 1e-5 * magnitude + 1e-30, $"{scheme} [{b}, {r}]: ONNX Runtime {ort[i]}, ours {ours[i]} (Σ|w·x| {magnitude})");
            }
        }
    }
}
