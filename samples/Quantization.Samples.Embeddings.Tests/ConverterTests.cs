using System.Runtime.InteropServices;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;
using Quantization.Samples.Embeddings.Onnx;

namespace Quantization.Samples.Embeddings.Tests;

public sealed class ConverterTests(ModelFixture model)
{
    [Fact]
    public void GgufHoldsTheHyperParametersAndVocabulary()
    {
        BertConfig config = BertConfig.FromGguf(model.File);
        Assert.Equal(new BertConfig(6, 384, 12, 1536, 512, 1e-12f), config);
        Assert.Equal("bert", model.File.GetString("general.architecture"));
        Assert.Equal(OnnxToGguf.ConverterVersion, model.File.GetUInt32(OnnxToGguf.ConverterVersionKey));
        IReadOnlyList<string> tokens = model.File.GetArray<string>("tokenizer.ggml.tokens");
        Assert.Equal(30522, tokens.Count);
        Assert.Equal("[CLS]", tokens[101]);
        Assert.Equal("[SEP]", tokens[102]);
        // 5 global tensors and 16 per layer.
        Assert.Equal(5 + (6 * 16), model.File.Tensors.Count);
    }

    [Fact]
    public void GgufRoundTripsEveryInitializer()
    {
        OnnxGraph graph = OnnxGraph.Parse(model.OnnxModel);
        List<(string Name, OnnxTensor Tensor, bool Transpose)> mapped = OnnxToGguf.MapTensors(graph);
        Assert.Equal(model.File.Tensors.Count, mapped.Count);
        foreach ((string name, OnnxTensor tensor, bool transpose) in mapped)
        {
            GgufTensorInfo info = model.File.GetTensor(name);
            Assert.Equal(QuantType.F32, info.Type);
            ReadOnlySpan<float> stored = MemoryMarshal.Cast<byte, float>(model.File.GetTensorData(info));
            float[] original = tensor.ToFloats();
            if (!transpose)
            {
                Assert.True(stored.SequenceEqual(original), name);
                continue;
            }

            // ONNX keeps [inputs, outputs]; the GGUF row r is output r: stored[r, c] = original[c, r].
            int inputs = (int)tensor.Dims[0], outputs = (int)tensor.Dims[1];
            Assert.Equal(outputs, info.RowCount);
            Assert.Equal(inputs, info.RowLength);
            for (int r = 0; r < outputs; r += 37)
            {
                for (int c = 0; c < inputs; c++)
                {
                    Assert.Equal(original[(c * outputs) + r], stored[(r * inputs) + c]);
                }
            }
        }
    }

    [Fact]
    public void MatMulWeightsAreFoundThroughTheGraph()
    {
        OnnxGraph graph = OnnxGraph.Parse(model.OnnxModel);
        List<(string Name, OnnxTensor Tensor, bool Transpose)> mapped = OnnxToGguf.MapTensors(graph);
        var up = mapped.Single(t => t.Name == "blk.3.ffn_up.weight");
        Assert.StartsWith("onnx::MatMul_", up.Tensor.Name, StringComparison.Ordinal);
        Assert.Equal([384L, 1536L], up.Tensor.Dims);
        Assert.True(up.Transpose);
        Assert.Equal([1536L, 384L], mapped.Single(t => t.Name == "blk.3.ffn_down.weight").Tensor.Dims);
    }
}

public sealed class FallbackTests
{
    [Theory]
    [InlineData(QuantType.Q8_0, QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0, QuantType.Q4_0)]
    [InlineData(QuantType.IQ4_NL, QuantType.IQ4_NL)]
    [InlineData(QuantType.Q6_K, QuantType.Q8_0)]
    [InlineData(QuantType.Q5_K, QuantType.Q5_1)]
    [InlineData(QuantType.Q4_K, QuantType.Q5_0)]
    [InlineData(QuantType.Q3_K, QuantType.IQ4_NL)]
    [InlineData(QuantType.Q2_K, QuantType.IQ4_NL)]
    [InlineData(QuantType.IQ4_XS, QuantType.IQ4_NL)]
    [InlineData(QuantType.IQ2_XS, QuantType.Q8_0)]
    public void RowsOf384UseTheDocumentedFallback(QuantType requested, QuantType expected)
    {
        Assert.Equal(expected, MatrixQuantization.Resolve(requested, 384));
        // Rows of 1536 split into 256-value blocks: every type is kept.
        Assert.Equal(requested, MatrixQuantization.Resolve(requested, 1536));
    }
}
