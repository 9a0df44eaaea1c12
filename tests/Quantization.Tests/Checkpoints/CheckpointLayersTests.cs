using System.Runtime.InteropServices;
using System.Text;
using Quantization.BitsAndBytes;
using Quantization.Checkpoints;
using Quantization.SafeTensors;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>Layers written to a safetensors file under their producers' tensor names, opened by prefix, equal to the same tensors passed directly.</summary>
public sealed class CheckpointLayersTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    private SafeTensorsCheckpoint Write(params (string Name, SafeTensorsDType DType, long[] Shape, byte[] Data)[] tensors)
    {
        using (SafeTensorsWriter writer = SafeTensorsWriter.Create(_path))
        {
            foreach ((string name, SafeTensorsDType dtype, long[] shape, byte[] data) in tensors)
            {
                writer.AddTensor(name, dtype, shape, data);
            }

            writer.Finish();
        }

        return SafeTensorsCheckpoint.Open(_path);
    }

    private static void AssertSameMatrix(IWeightMatrix expected, IWeightMatrix actual)
    {
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Columns, actual.Columns);
        float[] x = TestData.Gaussian(17, 2 * expected.Columns, 1.0);
        var a = new float[2 * expected.Rows];
        var b = new float[2 * expected.Rows];
        expected.MatMul(x, a, 2);
        actual.MatMul(x, b, 2);
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(3, true)]
    public void GptqLayer(int bits, bool actOrder)
    {
        const int inFeatures = 128, outFeatures = 32;
        var reference = GroupIntReference.Create(31, bits, inFeatures, outFeatures, 32, actOrder);
        byte[] qweight = GroupIntReference.Bytes(ProducerPacking.GptqPackWeight(reference.Codes, inFeatures, outFeatures, bits));
        byte[] qzeros = GroupIntReference.Bytes(ProducerPacking.GptqPackZeros(reference.Zeros, reference.Groups, outFeatures, bits, subtractOne: true));
        byte[] scales = GroupIntReference.Bytes(reference.Scales);
        byte[] gIdx = GroupIntReference.Bytes(reference.GIdx);
        using SafeTensorsCheckpoint checkpoint = Write(
            ("layer.qweight", SafeTensorsDType.I32, [inFeatures / 32 * bits, outFeatures], qweight),
            ("layer.qzeros", SafeTensorsDType.I32, [reference.Groups, outFeatures / 32 * bits], qzeros),
            ("layer.scales", SafeTensorsDType.F16, [reference.Groups, outFeatures], scales),
            ("layer.g_idx", SafeTensorsDType.I32, [inFeatures], gIdx));
        var config = new GptqConfig(bits, 32, actOrder);
        GptqMatrix opened = CheckpointLayers.OpenGptq(checkpoint, "layer", config);
        Assert.Equal(actOrder, opened.IsActOrder);
        AssertSameMatrix(new GptqMatrix(config, inFeatures, outFeatures, qweight, qzeros, scales, gIdx), opened);
        var w = new float[inFeatures * outFeatures];
        opened.Dequantize(w);
        Assert.Equal(reference.Dequantized, w);
    }

    [Fact]
    public void AwqLayer()
    {
        const int inFeatures = 128, outFeatures = 16;
        var reference = GroupIntReference.Create(32, 4, inFeatures, outFeatures, 64, actOrder: false);
        byte[] qweight = GroupIntReference.Bytes(ProducerPacking.AwqPack(Array.ConvertAll(reference.Codes, c => (int)c), inFeatures, outFeatures));
        byte[] qzeros = GroupIntReference.Bytes(ProducerPacking.AwqPack(reference.Zeros, reference.Groups, outFeatures));
        byte[] scales = GroupIntReference.Bytes(reference.Scales);
        using SafeTensorsCheckpoint checkpoint = Write(
            ("m.qweight", SafeTensorsDType.I32, [inFeatures, outFeatures / 8], qweight),
            ("m.qzeros", SafeTensorsDType.I32, [reference.Groups, outFeatures / 8], qzeros),
            ("m.scales", SafeTensorsDType.F16, [reference.Groups, outFeatures], scales));
        AwqMatrix opened = CheckpointLayers.OpenAwq(checkpoint, "m", new AwqConfig(64));
        var w = new float[inFeatures * outFeatures];
        opened.Dequantize(w);
        Assert.Equal(reference.Dequantized, w);
        AssertSameMatrix(new AwqMatrix(64, inFeatures, outFeatures, qweight, qzeros, scales), opened);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BitsAndBytesLayer(bool nested)
    {
        const int rows = 8, columns = 96;
        float[] w = TestData.Gaussian(33, rows * columns, 0.1);
        var packed = new byte[rows * columns / 2];
        BitsAndBytesQuantState state = BitsAndBytes4Bit.Quantize(QuantType.NF4, w, packed, 64, compressStatistics: nested);
        float[] map = new float[16];
        BitsAndBytes4Bit.Dequantize(QuantType.NF4, [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF], [1f], 64, map);
        string json = nested
            ? $$"""{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [{{rows}}, {{columns}}], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": {{state.NestedOffset.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}}}"""
            : $$"""{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [{{rows}}, {{columns}}]}""";
        byte[] jsonBytes = Encoding.UTF8.GetBytes(json);
        byte[] absmax = nested ? state.QuantizedAbsmax.ToArray() : MemoryMarshal.AsBytes(state.Absmax.Span).ToArray();
        var tensors = new List<(string, SafeTensorsDType, long[], byte[])>
        {
            ("l.weight", SafeTensorsDType.U8, [packed.Length, 1], packed),
            ("l.weight.quant_state.bitsandbytes__nf4", SafeTensorsDType.U8, [jsonBytes.Length], jsonBytes),
            ("l.weight.absmax", nested ? SafeTensorsDType.U8 : SafeTensorsDType.F32, [state.BlockCount], absmax),
            ("l.weight.quant_map", SafeTensorsDType.F32, [16], MemoryMarshal.AsBytes(map.AsSpan()).ToArray()),
        };
        if (nested)
        {
            tensors.Add(("l.weight.nested_absmax", SafeTensorsDType.F32, [state.NestedAbsmax.Length], MemoryMarshal.AsBytes(state.NestedAbsmax.Span).ToArray()));
            tensors.Add(("l.weight.nested_quant_map", SafeTensorsDType.F32, [256], MemoryMarshal.AsBytes(state.NestedCode.Span).ToArray()));
        }

        using SafeTensorsCheckpoint checkpoint = Write([.. tensors]);
        BitsAndBytes4BitMatrix opened = CheckpointLayers.OpenBitsAndBytes4Bit(checkpoint, "l");
        Assert.Equal(nested, opened.QuantState.IsNested);
        var expected = new float[w.Length];
        BitsAndBytes4Bit.Dequantize(packed, state, expected);
        var actual = new float[w.Length];
        opened.Dequantize(actual);
        Assert.Equal(expected, actual);
        AssertSameMatrix(new BitsAndBytes4BitMatrix(packed, state, rows, columns), opened);
    }

    [Fact]
    public void Fp8LayerWithBlockScales()
    {
        const int rows = 130, columns = 200;
        float[] w = TestData.Gaussian(34, rows * columns, 1.0);
        var codes = new byte[rows * columns];
        Fp8E4M3.FromSingle(w, codes);
        float[] scales = [0.5f, 0.25f, 2f, 4f];
        byte[] scaleBytes = MemoryMarshal.AsBytes(scales.AsSpan()).ToArray();
        using SafeTensorsCheckpoint checkpoint = Write(
            ("p.weight", SafeTensorsDType.F8E4M3, [rows, columns], codes),
            ("p.weight_scale_inv", SafeTensorsDType.F32, [2, 2], scaleBytes));
        Fp8WeightMatrix opened = CheckpointLayers.OpenFp8(checkpoint, "p");
        Assert.Equal(SchemeGranularity.Block2D, opened.Scheme.Granularity);
        AssertSameMatrix(new Fp8WeightMatrix(codes, rows, columns, scaleBytes, [2, 2]), opened);
        var dequantized = new float[rows * columns];
        opened.Dequantize(dequantized);
        Assert.Equal(Fp8E4M3.ToSingle(codes[129 * columns + 150]) * 4f, dequantized[129 * columns + 150]);
    }

    [Fact]
    public void MissingTensorsAndWrongDtypesAreReported()
    {
        using SafeTensorsCheckpoint checkpoint = Write(
            ("a.qweight", SafeTensorsDType.F32, [4, 32], new byte[4 * 32 * 4]),
            ("b.weight", SafeTensorsDType.F16, [2, 2], new byte[8]),
            ("b.weight_scale", SafeTensorsDType.F32, [1], new byte[4]));
        Assert.Throws<KeyNotFoundException>(() => CheckpointLayers.OpenGptq(checkpoint, "missing", new GptqConfig(4, 32)));
        Assert.Throws<InvalidDataException>(() => CheckpointLayers.OpenGptq(checkpoint, "a", new GptqConfig(4, 32)));
        Assert.Throws<InvalidDataException>(() => CheckpointLayers.OpenFp8(checkpoint, "b"));
        Assert.Throws<KeyNotFoundException>(() => CheckpointLayers.OpenBitsAndBytes4Bit(checkpoint, "b"));
        Assert.Throws<ArgumentNullException>("checkpoint", () => CheckpointLayers.OpenAwq(null!, "a", new AwqConfig(32)));
    }
}
