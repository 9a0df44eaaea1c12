using System.Buffers.Binary;
using Quantization.Cli;
using Quantization.Gguf;
using Quantization.Oracle;
using Quantization.SafeTensors;
using Quantization.Tests.Checkpoints;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.Tools;

/// <summary>
/// <c>quant convert model.safetensors out.gguf --type T</c>: 2-D float matrices whose rows fit T become ggml's bytes for
/// their values, everything else is copied in its GGUF type under its own name, and a tensor GGUF cannot hold stops the
/// conversion before anything is written.
/// </summary>
public sealed class SafeTensorsConvertTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-stc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = QuantCommandLine.Run(args, output, error, QuantCommandLine.CreateConsole(output));
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public void ConvertsEachTensorUnderItsName()
    {
        Gguf.GgufInteropTests.RequireGgml();

        // BF16 [8, 256] matrix: its float values are the BF16 bits shifted up (computed here, not by the reader).
        var bf16 = new byte[8 * 256 * 2];
        var weights = new float[8 * 256];
        var random = new Random(11);
        for (int i = 0; i < weights.Length; i++)
        {
            ushort bits = (ushort)(BitConverter.SingleToInt32Bits((float)(random.NextDouble() * 2 - 1)) >> 16);
            BinaryPrimitives.WriteUInt16LittleEndian(bf16.AsSpan(2 * i), bits);
            weights[i] = BitConverter.Int32BitsToSingle(bits << 16);
        }

        byte[] norm = [.. Enumerable.Range(0, 256).SelectMany(i => BitConverter.GetBytes(1f + i / 256f))];
        byte[] odd = Sequence(3 * 5 * 2);   // F16 [3, 5]: rows fit no 256-value block
        byte[] step = BitConverter.GetBytes(42L); // I64 scalar
        byte[] data = [.. bf16, .. norm, .. odd, .. step];
        long a = bf16.Length, b = a + norm.Length, c = b + odd.Length, d = c + step.Length;
        string header = "{\"__metadata__\":{\"format\":\"pt\"},"
                        + Entry("model.layers.0.mlp.up_proj.weight", "BF16", [8, 256], 0, a) + ","
                        + Entry("model.norm.weight", "F32", [256], a, b) + ","
                        + Entry("rotary.inv_freq", "F16", [3, 5], b, c) + ","
                        + Entry("step", "I64", [], c, d) + "}";
        File.WriteAllBytes(PathOf("model.safetensors"), Build(header, data));

        var (exitCode, _, error) = Run("convert", PathOf("model.safetensors"), PathOf("out.gguf"), "--type", "q4_K", "--threads", "2");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using GgufFile gguf = GgufFile.Open(PathOf("out.gguf"));
        Assert.Equal("pt", gguf.GetString("safetensors.format"));
        Assert.Equal(["model.layers.0.mlp.up_proj.weight", "model.norm.weight", "rotary.inv_freq", "step"], gguf.Tensors.Select(t => t.Name));

        GgufTensorInfo up = gguf.GetTensor("model.layers.0.mlp.up_proj.weight");
        Assert.Equal(QuantType.Q4_K, up.Type);
        Assert.Equal([256L, 8L], up.Dimensions);
        Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.Q4_K, weights, 256), gguf.GetTensorData(up).ToArray());

        GgufTensorInfo n = gguf.GetTensor("model.norm.weight");
        Assert.Equal(QuantType.F32, n.Type);
        Assert.Equal([256], n.Dimensions);
        Assert.Equal(norm, gguf.GetTensorData(n).ToArray());

        GgufTensorInfo o = gguf.GetTensor("rotary.inv_freq");
        Assert.Equal(QuantType.F16, o.Type);
        Assert.Equal([5, 3], o.Dimensions);
        Assert.Equal(odd, gguf.GetTensorData(o).ToArray());

        GgufTensorInfo s = gguf.GetTensor("step");
        Assert.Equal(QuantType.I64, s.Type);
        Assert.Equal([1], s.Dimensions);
        Assert.Equal(step, gguf.GetTensorData(s).ToArray());
    }

    [Fact]
    public void ATensorGgufCannotHoldStopsTheConversionBeforeAnythingIsWritten()
    {
        byte[] data = [.. new byte[4 * 256], 1, 0, 1, 1];
        string header = "{" + Entry("a.weight", "F32", [1, 256], 0, 1024) + "," + Entry("a.mask", "BOOL", [4], 1024, 1028) + "}";
        File.WriteAllBytes(PathOf("model.safetensors"), Build(header, data));

        var (exitCode, _, error) = Run("convert", PathOf("model.safetensors"), PathOf("out.gguf"), "--type", "q8_0");

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Contains("'a.mask' is BOOL", error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("out.gguf")));
        Assert.False(File.Exists(PathOf("out.gguf.tmp")));
    }

    [Fact]
    public void APresetNeedsGgufNames()
    {
        string header = "{" + Entry("a.weight", "F32", [1, 256], 0, 1024) + "}";
        File.WriteAllBytes(PathOf("model.safetensors"), Build(header, new byte[1024]));

        var (exitCode, _, error) = Run("convert", PathOf("model.safetensors"), PathOf("out.gguf"), "--type", "Q4_K_M");

        Assert.NotEqual(QuantCommandLine.ExitSuccess, exitCode);
        Assert.Contains("preset", error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("out.gguf")));
    }

    private void WriteCheckpoint(params (string Name, SafeTensorsDType DType, long[] Shape, byte[] Data)[] tensors)
    {
        using SafeTensorsWriter writer = SafeTensorsWriter.Create(PathOf("model.safetensors"));
        foreach ((string name, SafeTensorsDType dtype, long[] shape, byte[] data) in tensors)
        {
            writer.AddTensor(name, dtype, shape, data);
        }

        writer.Finish();
    }

    /// <summary>
    /// A GPTQ layer (packed by the test port of auto-gptq's <c>pack</c>, configured by quantize_config.json) becomes one
    /// <c>&lt;prefix&gt;.weight</c> whose bytes are ggml's for the layer's dequantized values (the naive reference's),
    /// and its four tensors are gone; a bias beside it is copied.
    /// </summary>
    [Fact]
    public void AGptqLayerBecomesOneQuantizedWeight()
    {
        Gguf.GgufInteropTests.RequireGgml();
        const int inFeatures = 256, outFeatures = 32, bits = 4;
        var reference = GroupIntReference.Create(5, bits, inFeatures, outFeatures, 64, actOrder: false);
        byte[] bias = new byte[outFeatures * 4];
        WriteCheckpoint(
            ("model.layers.0.mlp.down_proj.bias", SafeTensorsDType.F32, [outFeatures], bias),
            ("model.layers.0.mlp.down_proj.g_idx", SafeTensorsDType.I32, [inFeatures], GroupIntReference.Bytes(reference.GIdx)),
            ("model.layers.0.mlp.down_proj.qweight", SafeTensorsDType.I32, [inFeatures / 32 * bits, outFeatures],
                GroupIntReference.Bytes(ProducerPacking.GptqPackWeight(reference.Codes, inFeatures, outFeatures, bits))),
            ("model.layers.0.mlp.down_proj.qzeros", SafeTensorsDType.I32, [reference.Groups, outFeatures / 32 * bits],
                GroupIntReference.Bytes(ProducerPacking.GptqPackZeros(reference.Zeros, reference.Groups, outFeatures, bits, subtractOne: true))),
            ("model.layers.0.mlp.down_proj.scales", SafeTensorsDType.F16, [reference.Groups, outFeatures], GroupIntReference.Bytes(reference.Scales)));
        File.WriteAllText(PathOf("quantize_config.json"), "{\"bits\": 4, \"group_size\": 64, \"desc_act\": false, \"sym\": false}");

        var (exitCode, _, error) = Run("convert", PathOf("model.safetensors"), PathOf("out.gguf"), "--type", "q8_0");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using GgufFile gguf = GgufFile.Open(PathOf("out.gguf"));
        Assert.Equal(["model.layers.0.mlp.down_proj.bias", "model.layers.0.mlp.down_proj.weight"], gguf.Tensors.Select(t => t.Name));
        GgufTensorInfo w = gguf.GetTensor("model.layers.0.mlp.down_proj.weight");
        Assert.Equal(QuantType.Q8_0, w.Type);
        Assert.Equal([inFeatures, outFeatures], w.Dimensions);
        Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.Q8_0, reference.Dequantized, inFeatures), gguf.GetTensorData(w).ToArray());
        Assert.Contains("relative RMS error", error, StringComparison.Ordinal);
    }

    /// <summary>An FP8 weight is converted with its scale applied, not as bare codes.</summary>
    [Fact]
    public void AnFp8WeightIsConvertedWithItsScale()
    {
        const int rows = 4, columns = 64;
        byte[] codes = [.. Enumerable.Range(0, rows * columns).Select(i => (byte)(0x30 + i % 16))]; // E4M3 exponents 6 and 7, every mantissa
        WriteCheckpoint(
            ("p.weight", SafeTensorsDType.F8E4M3, [rows, columns], codes),
            ("p.weight_scale_inv", SafeTensorsDType.F32, [], BitConverter.GetBytes(4f)));

        var (exitCode, _, error) = Run("convert", PathOf("model.safetensors"), PathOf("out.gguf"), "--type", "q8_0");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using GgufFile gguf = GgufFile.Open(PathOf("out.gguf"));
        Assert.Equal(["p.weight"], gguf.Tensors.Select(t => t.Name));
        // Q8_0 stores 32 values as d = max|w| / 127 and q = round(w / d): for these codes the first block's largest value
        // is code 0x3F (exponent bits 0111, mantissa 111) = 2^(7-7)·(1 + 7/8) = 1.875, times the scale 4 = 7.5.
        var back = new float[rows * columns];
        Quantizer.Dequantize(QuantType.Q8_0, gguf.GetTensorData(gguf.GetTensor("p.weight")), back);
        Assert.Equal(7.5f, back[15], 0.02f);
        Assert.Equal(4f * 0.5f, back[0], 0.02f); // code 0x30 (exponent bits 0110) = 2^(6-7) = 0.5
    }
}
