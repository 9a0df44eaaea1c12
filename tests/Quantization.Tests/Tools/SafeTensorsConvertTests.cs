using System.Buffers.Binary;
using Quantization.Cli;
using Quantization.Gguf;
using Quantization.Oracle;
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
}
