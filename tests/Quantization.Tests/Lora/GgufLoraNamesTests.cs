using System.Runtime.InteropServices;
using Quantization.Cli;
using Quantization.Gguf;
using Quantization.Lora;
using Quantization.SafeTensors;

namespace Quantization.Tests.Lora;

/// <summary>
/// PEFT adapters renamed for a GGUF base: Hugging Face module names to llama.cpp's tensor names, and for the llama
/// architecture the query / key B rows reordered as llama.cpp's converter reorders those weights (per head of d rows:
/// reshape (2, d/2), swap the axes; for d = 4 the rows of a head come in the order 0, 2, 1, 3).
/// </summary>
public sealed class GgufLoraNamesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-loranames-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private GgufFile Base(string architecture)
    {
        string path = Path.Combine(_dir, architecture + ".gguf");
        using (GgufWriter writer = GgufWriter.Create(path))
        {
            writer.SetMetadata("general.architecture", GgufValue.FromString(architecture));
            writer.SetMetadata(architecture + ".attention.head_count", GgufValue.FromUInt32(2));
            writer.SetMetadata(architecture + ".attention.head_count_kv", GgufValue.FromUInt32(1));
            writer.Finish();
        }

        return GgufFile.Open(path);
    }

    /// <summary>A rank-1 adapter whose B row i holds the value i, so a reordering shows as the values' order.</summary>
    private static LoraAdapterSet Peft(params (string Module, int Outputs)[] modules)
    {
        var source = new InMemoryLoraTensorSource();
        foreach ((string module, int outputs) in modules)
        {
            source.Add($"base_model.model.{module}.lora_A.weight", [1, 8], new float[] { 1, 2, 3, 4, 5, 6, 7, 8 });
            source.Add($"base_model.model.{module}.lora_B.weight", [outputs, 1], Enumerable.Range(0, outputs).Select(i => (float)i).ToArray());
        }

        PeftLoraConfig config = PeftLoraConfig.Parse("""{ "r": 1, "lora_alpha": 2, "target_modules": "all-linear" }""");
        return LoraAdapterSet.FromPeft(config, source);
    }

    private static float[] BColumn(LoraAdapter adapter) => [.. Enumerable.Range(0, adapter.OutputSize).Select(i => adapter.GetB(i, 0))];

    [Fact]
    public void LlamaNamesAndQueryKeyRowOrder()
    {
        using GgufFile model = Base("llama");
        LoraAdapterSet peft = Peft(("model.layers.0.self_attn.q_proj", 8), ("model.layers.0.self_attn.k_proj", 4),
                                   ("model.layers.3.mlp.down_proj", 4), ("lm_head", 4));

        LoraAdapterSet gguf = GgufLoraNames.ToGguf(peft, model);

        Assert.Equal(["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.3.ffn_down.weight", "output.weight"], gguf.Keys);
        Assert.Equal([0f, 2, 1, 3, 4, 6, 5, 7], BColumn(gguf["blk.0.attn_q.weight"])); // two heads of 4
        Assert.Equal([0f, 2, 1, 3], BColumn(gguf["blk.0.attn_k.weight"]));             // one KV head of 4
        Assert.Equal([0f, 1, 2, 3], BColumn(gguf["blk.3.ffn_down.weight"]));           // not a rotary projection
        Assert.Equal(peft["model.layers.0.self_attn.q_proj.weight"].A.ToArray(), gguf["blk.0.attn_q.weight"].A.ToArray());
        Assert.Equal(peft["model.layers.0.self_attn.q_proj.weight"].Scaling, gguf["blk.0.attn_q.weight"].Scaling);
    }

    [Fact]
    public void OtherArchitecturesKeepTheRowOrder()
    {
        using GgufFile model = Base("qwen2");

        LoraAdapterSet gguf = GgufLoraNames.ToGguf(Peft(("model.layers.1.self_attn.q_proj", 8)), model);

        Assert.Equal([0f, 1, 2, 3, 4, 5, 6, 7], BColumn(gguf["blk.1.attn_q.weight"]));
    }

    [Fact]
    public void UnknownModulesAndArchitecturesAreRefused()
    {
        using GgufFile llama = Base("llama");
        using GgufFile phi = Base("phi3");

        Assert.Contains("model.layers.0.self_attn.qkv_proj", Assert.Throws<InvalidDataException>(() => GgufLoraNames.ToGguf(Peft(("model.layers.0.self_attn.qkv_proj", 8)), llama)).Message, StringComparison.Ordinal);
        Assert.Contains("phi3", Assert.Throws<InvalidDataException>(() => GgufLoraNames.ToGguf(Peft(("model.layers.0.self_attn.q_proj", 8)), phi)).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>quant merge-lora BASE PEFT-FOLDER OUT --type f32</c>: W + scale·(α/r)·B·A with B's rows in llama.cpp's order,
    /// computed here in double from the adapter's own numbers.
    /// </summary>
    [Fact]
    public void MergeLoraTakesAPeftFolder()
    {
        const int rows = 8, columns = 8, rank = 2;
        float[] w = [.. Enumerable.Range(0, rows * columns).Select(i => (i % 7) * 0.25f - 0.75f)];
        float[] a = [.. Enumerable.Range(0, rank * columns).Select(i => (i % 5) * 0.5f - 1f)];
        float[] b = [.. Enumerable.Range(0, rows * rank).Select(i => (i % 3) * 0.125f + 0.25f)];
        string basePath = Path.Combine(_dir, "base.gguf");
        using (GgufWriter writer = GgufWriter.Create(basePath))
        {
            writer.SetMetadata("general.architecture", GgufValue.FromString("llama"));
            writer.SetMetadata("llama.attention.head_count", GgufValue.FromUInt32(2));
            writer.AddTensor("blk.0.attn_q.weight", QuantType.F32, [columns, rows]);
            writer.WriteTensorData(MemoryMarshal.AsBytes(w.AsSpan()));
            writer.Finish();
        }

        string adapterDir = Directory.CreateDirectory(Path.Combine(_dir, "adapter")).FullName;
        File.WriteAllText(Path.Combine(adapterDir, "adapter_config.json"), """{ "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"] }""");
        using (SafeTensorsWriter writer = SafeTensorsWriter.Create(Path.Combine(adapterDir, "adapter_model.safetensors")))
        {
            writer.AddTensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", SafeTensorsDType.F32, [rank, columns], MemoryMarshal.AsBytes(a.AsSpan()).ToArray());
            writer.AddTensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", SafeTensorsDType.F32, [rows, rank], MemoryMarshal.AsBytes(b.AsSpan()).ToArray());
            writer.Finish();
        }

        using var output = new StringWriter();
        using var error = new StringWriter();
        string outPath = Path.Combine(_dir, "merged.gguf");
        int code = QuantCommandLine.Run(["merge-lora", basePath, adapterDir, outPath, "--type", "f32", "--scale", "0.5"], output, error);

        Assert.True(code == QuantCommandLine.ExitSuccess, error.ToString());
        using GgufFile merged = GgufFile.Open(outPath);
        float[] actual = MemoryMarshal.Cast<byte, float>(merged.GetTensorData(merged.GetTensor("blk.0.attn_q.weight"))).ToArray();
        int[] order = [0, 2, 1, 3, 4, 6, 5, 7]; // llama.cpp's row order for two heads of four
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                double delta = 0;
                for (int k = 0; k < rank; k++)
                {
                    delta += (double)b[order[r] * rank + k] * a[k * columns + c];
                }

                Assert.Equal(w[r * columns + c] + 0.5 * (4.0 / 2) * delta, actual[r * columns + c], 1e-5);
            }
        }
    }
}
