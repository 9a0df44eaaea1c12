using System.Text.Json;
using Quantization.Cli;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.Tools;

/// <summary><c>quant inspect</c> of safetensors files and sharded indexes, with the quantization layouts recognised.</summary>
public sealed class SafeTensorsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-st-").FullName;

    public SafeTensorsCommandTests()
    {
        // Hand-laid shard 1: a GPTQ layer (4-bit, group 32: 64 inputs, 8 outputs), an AWQ-like layer without g_idx, a dense norm.
        var entries = new List<string>();
        long offset = 0;
        void Add(string name, string dtype, long[] shape, int bitsPerValue)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * bitsPerValue / 8;
            entries.Add(Entry(name, dtype, shape, offset, offset + bytes));
            offset += bytes;
        }

        Add("model.layers.0.mlp.down_proj.qweight", "I32", [8, 8], 32);
        Add("model.layers.0.mlp.down_proj.qzeros", "I32", [2, 1], 32);
        Add("model.layers.0.mlp.down_proj.scales", "F16", [2, 8], 16);
        Add("model.layers.0.mlp.down_proj.g_idx", "I32", [64], 32);
        Add("model.layers.0.mlp.up_proj.qweight", "I32", [64, 1], 32);
        Add("model.layers.0.mlp.up_proj.qzeros", "I32", [2, 1], 32);
        Add("model.layers.0.mlp.up_proj.scales", "F16", [2, 8], 16);
        Add("model.norm.weight", "BF16", [64], 16);
        File.WriteAllBytes(PathOf("model-00001-of-00002.safetensors"),
            Build("{\"__metadata__\":{\"format\":\"pt\"}," + string.Join(',', entries) + "}", new byte[offset]));
        string[] first = [.. entries.Select(e => e[1..e.IndexOf('"', 1)])];

        // Shard 2: a bitsandbytes NF4 weight with its companions, an FP8 block-scaled weight, a plain FP8 weight.
        entries.Clear();
        offset = 0;
        Add("model.layers.1.self_attn.q_proj.weight", "U8", [2048, 1], 8);
        Add("model.layers.1.self_attn.q_proj.weight.absmax", "F32", [64], 32);
        Add("model.layers.1.self_attn.q_proj.weight.quant_map", "F32", [16], 32);
        Add("model.layers.1.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4", "U8", [40], 8);
        Add("model.layers.1.self_attn.k_proj.weight", "F8_E4M3", [256, 128], 8);
        Add("model.layers.1.self_attn.k_proj.weight_scale_inv", "F32", [2, 1], 32);
        Add("model.layers.1.self_attn.v_proj.weight", "F8_E4M3", [4, 4], 8);
        File.WriteAllBytes(PathOf("model-00002-of-00002.safetensors"), Build("{" + string.Join(',', entries) + "}", new byte[offset]));
        string[] second = [.. entries.Select(e => e[1..e.IndexOf('"', 1)])];

        string map = string.Join(",\n    ", first.Select(n => $"\"{n}\": \"model-00001-of-00002.safetensors\"")
            .Concat(second.Select(n => $"\"{n}\": \"model-00002-of-00002.safetensors\"")));
        File.WriteAllText(PathOf("model.safetensors.index.json"), "{\n  \"metadata\": {\"total_size\": 1234},\n  \"weight_map\": {\n    " + map + "\n  }\n}\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Spectre.Console.IAnsiConsole console = QuantCommandLine.CreateConsole(output);
        console.Profile.Width = 240; // wide enough that no name or label wraps
        int exitCode = QuantCommandLine.Run(args, output, error, console);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public void InspectsASafeTensorsFile()
    {
        var (exitCode, output, error) = Run("inspect", PathOf("model-00001-of-00002.safetensors"));

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        Assert.Contains("safetensors, 8 tensors", output, StringComparison.Ordinal);
        Assert.Contains("model.layers.0.mlp.down_proj.qweight", output, StringComparison.Ordinal);
        Assert.Contains("[8, 8]", output, StringComparison.Ordinal);
        Assert.Contains("GPTQ (group int, g_idx)", output, StringComparison.Ordinal);
        Assert.Contains("GPTQ/AWQ (group int)", output, StringComparison.Ordinal);
        Assert.Contains("format", output, StringComparison.Ordinal);
        Assert.Contains("Totals per dtype and layout", output, StringComparison.Ordinal);
    }

    [Fact]
    public void InspectsAShardedIndexAsJsonWithLayouts()
    {
        var (exitCode, output, error) = Run("inspect", PathOf("model.safetensors.index.json"), "--format", "json");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement root = json.RootElement;
        Assert.Equal("safetensors-index", root.GetProperty("format").GetString());
        Assert.Equal(1234, root.GetProperty("totalSize").GetInt64());
        Assert.Equal(2, root.GetProperty("shards").GetArrayLength());
        Dictionary<string, JsonElement> tensors = root.GetProperty("tensors").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        Assert.Equal(15, tensors.Count);

        string? Layout(string name) => tensors[name].GetProperty("layout").GetString();
        Assert.Equal("GPTQ (group int, g_idx)", Layout("model.layers.0.mlp.down_proj.g_idx"));
        Assert.Equal("GPTQ (group int, g_idx)", Layout("model.layers.0.mlp.down_proj.scales"));
        Assert.Equal("GPTQ/AWQ (group int)", Layout("model.layers.0.mlp.up_proj.qzeros"));
        Assert.Null(Layout("model.norm.weight"));
        Assert.Equal("bitsandbytes NF4", Layout("model.layers.1.self_attn.q_proj.weight"));
        Assert.Equal("bitsandbytes NF4", Layout("model.layers.1.self_attn.q_proj.weight.absmax"));
        Assert.Equal("bitsandbytes NF4", Layout("model.layers.1.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4"));
        Assert.Equal("FP8 block-scaled", Layout("model.layers.1.self_attn.k_proj.weight"));
        Assert.Equal("FP8 block-scaled", Layout("model.layers.1.self_attn.k_proj.weight_scale_inv"));
        Assert.Equal("FP8", Layout("model.layers.1.self_attn.v_proj.weight"));

        JsonElement k = tensors["model.layers.1.self_attn.k_proj.weight"];
        Assert.Equal("F8_E4M3", k.GetProperty("dType").GetString());
        Assert.Equal([256L, 128], k.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(256 * 128, k.GetProperty("bytes").GetInt64());
        Assert.Equal("model-00002-of-00002.safetensors", k.GetProperty("shard").GetString());
        Assert.Equal(2048 + 64 * 4 + 16 * 4 + 40, k.GetProperty("offset").GetInt64());
    }

    [Fact]
    public void ACorruptSafeTensorsFileIsOneLineAndExitCodeOne()
    {
        byte[] bytes = File.ReadAllBytes(PathOf("model-00001-of-00002.safetensors"));
        File.WriteAllBytes(PathOf("bad.safetensors"), bytes[..^1]);

        var (exitCode, output, error) = Run("inspect", PathOf("bad.safetensors"));

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Empty(output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("Invalid safetensors file", error, StringComparison.Ordinal);
        Assert.Contains("past the end of the", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AFileWithoutAKnownExtensionIsGgufByItsMagic()
    {
        File.WriteAllBytes(PathOf("model.bin"), Quantization.Tests.Gguf.GgufSample.Create().WriteOurs());
        File.Copy(PathOf("model-00002-of-00002.safetensors"), PathOf("weights.bin"));

        var (ggufExit, gguf, ggufError) = Run("inspect", PathOf("model.bin"));
        var (stExit, st, stError) = Run("inspect", PathOf("weights.bin"));

        Assert.True(ggufExit == QuantCommandLine.ExitSuccess, ggufError);
        Assert.Contains("GGUF v3", gguf, StringComparison.Ordinal);
        Assert.True(stExit == QuantCommandLine.ExitSuccess, stError);
        Assert.Contains("weights.bin: safetensors, 7 tensors", st, StringComparison.Ordinal);
    }
}
