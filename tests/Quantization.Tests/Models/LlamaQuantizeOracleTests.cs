using Quantization.Gguf;
using Quantization.Oracle;

namespace Quantization.Tests.Models;

/// <summary>The oracle itself: libllama loads beside ggml and quantizes models this repository's writer produces.</summary>
public sealed class LlamaQuantizeOracleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-oracle-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static void RequireOracle()
    {
        if (!LlamaQuantize.IsAvailable)
        {
            Assert.Skip("llama_model_quantize is not loadable here: " + LlamaQuantize.LoadError);
        }
    }

    [Fact]
    public void Default_parameters_have_the_documented_layout()
    {
        RequireOracle();
        LlamaQuantize.QuantizeParams p = LlamaQuantize.DefaultParams();
        Assert.Equal(0, p.Threads);
        Assert.Equal(7, p.FileType); // LLAMA_FTYPE_MOSTLY_Q8_0
        Assert.True(p.OutputTensorType > 30 && p.OutputTensorType == p.TokenEmbeddingType); // GGML_TYPE_COUNT
        Assert.Equal(1, p.QuantizeOutputTensor);
        Assert.Equal(0, p.AllowRequantize + p.OnlyCopy + p.Pure + p.KeepSplit + p.DryRun);
        Assert.Equal(0, p.Imatrix + p.KvOverrides + p.TensorTypes + p.PruneLayers);
    }

    [Theory]
    [InlineData(7, QuantType.Q8_0, QuantType.Q8_0)]
    [InlineData(15, QuantType.Q4_K, QuantType.Q6_K)]
    public void Quantizes_a_synthetic_llama(int ftype, QuantType attentionQ, QuantType output)
    {
        RequireOracle();
        string input = Path.Combine(_dir, "in.gguf"), result = Path.Combine(_dir, "out.gguf");
        new SyntheticModel("llama").Write(input);
        Assert.Equal(0u, LlamaQuantize.Quantize(input, result, ftype));
        using GgufFile file = GgufFile.Open(result);
        Assert.Equal((uint)ftype, file.GetUInt32("general.file_type"));
        Assert.Equal(attentionQ, file.GetTensor("blk.0.attn_q.weight").Type);
        Assert.Equal(output, file.GetTensor("output.weight").Type);
        Assert.Equal(QuantType.F32, file.GetTensor("blk.0.attn_norm.weight").Type);
    }
}
