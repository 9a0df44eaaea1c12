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
