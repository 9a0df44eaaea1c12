using System.Runtime.InteropServices;
using Quantization.Gguf;

namespace Quantization.Samples.Embeddings.Model;

/// <summary>The weights of one encoder layer: six matrices the library multiplies by, and float vectors.</summary>
public sealed class LayerWeights
{
    public required IWeightMatrix Query { get; init; }
    public required IWeightMatrix Key { get; init; }
    public required IWeightMatrix Value { get; init; }
    public required IWeightMatrix Output { get; init; }
    public required IWeightMatrix Up { get; init; }
    public required IWeightMatrix Down { get; init; }
    public required float[] QueryBias { get; init; }
    public required float[] KeyBias { get; init; }
    public required float[] ValueBias { get; init; }
    public required float[] OutputBias { get; init; }
    public required float[] AttentionNormWeight { get; init; }
    public required float[] AttentionNormBias { get; init; }
    public required float[] UpBias { get; init; }
    public required float[] DownBias { get; init; }
    public required float[] OutputNormWeight { get; init; }
    public required float[] OutputNormBias { get; init; }
}

/// <summary>
/// Every weight of the encoder, from a GGUF made by the converter. The matrices are either the file's F32 tensors,
/// multiplied in place from the memory map, or quantized once at load time to a requested format. Embedding tables,
/// biases and layer norms stay float: they are looked up or added, never multiplied.
/// </summary>
public sealed class EncoderWeights
{
    private readonly GgufFile _file;
    private readonly GgufTensorInfo _tokenEmbedding;

    private EncoderWeights(GgufFile file, BertConfig config, LayerWeights[] layers, IReadOnlyList<(string, IWeightMatrix)> matrices)
    {
        _file = file;
        Config = config;
        Layers = layers;
        Matrices = matrices;
        _tokenEmbedding = file.GetTensor(BertNames.TokenEmbedding);
        PositionEmbedding = ReadFloats(file, BertNames.PositionEmbedding);
        TokenTypeEmbedding = ReadFloats(file, BertNames.TokenTypeEmbedding);
        EmbeddingNormWeight = ReadFloats(file, BertNames.EmbeddingNormWeight);
        EmbeddingNormBias = ReadFloats(file, BertNames.EmbeddingNormBias);
    }

    public BertConfig Config { get; }

    public IReadOnlyList<LayerWeights> Layers { get; }

    /// <summary>Every weight matrix by GGUF name, in forward order.</summary>
    public IReadOnlyList<(string Name, IWeightMatrix Matrix)> Matrices { get; }

    public float[] PositionEmbedding { get; }

    public float[] TokenTypeEmbedding { get; }

    public float[] EmbeddingNormWeight { get; }

    public float[] EmbeddingNormBias { get; }

    /// <summary>Bytes of the weight matrices in their formats (what quantization shrinks).</summary>
    public long MatrixBytes => Matrices.Sum(m => m.Matrix switch
    {
        QuantizedMatrix q => (long)q.Weights.Length,
        InputScaledMatrix s => s.Matrix.Weights.Length + s.ScaleBytes,
        _ => 0L,
    });

    /// <summary>The embedding row of <paramref name="tokenId"/>, read from the memory map.</summary>
    public ReadOnlySpan<float> TokenEmbedding(long tokenId)
    {
        int hidden = Config.Hidden;
        if ((ulong)tokenId >= (ulong)_tokenEmbedding.RowCount)
        {
            throw new ArgumentOutOfRangeException(nameof(tokenId), tokenId, $"The vocabulary has {_tokenEmbedding.RowCount} tokens.");
        }

        return MemoryMarshal.Cast<byte, float>(_file.GetTensorData(_tokenEmbedding)).Slice(checked((int)tokenId * hidden), hidden);
    }

    /// <summary>The model as stored: F32 matrices multiplied from the memory map.</summary>
    public static EncoderWeights Load(GgufFile file) =>
        Load(file, (name, _) => file.GetTensorView(name).AsMatrix());

    /// <summary>
    /// The model with every weight matrix quantized to <paramref name="type"/> (or its fallback, see
    /// <see cref="MatrixQuantization.Resolve"/>) by <paramref name="quantizer"/>.
    /// </summary>
    public static EncoderWeights Load(GgufFile file, QuantType type, MatrixQuantizer quantizer, CalibrationRecorder? calibration = null) =>
        Load(file, (name, info) =>
        {
            var matrix = new MatrixInfo(name, (int)info.RowCount, (int)info.RowLength, MatrixQuantization.Resolve(type, (int)info.RowLength));
            float[] weights = ReadFloats(file, name);
            QuantizedWeights result = quantizer(matrix, weights, calibration);
            var quantized = new QuantizedMatrix(matrix.Type, result.Bytes, matrix.Rows, matrix.Columns);
            return result.InputScales is null ? quantized : new InputScaledMatrix(quantized, result.InputScales);
        });

    /// <summary>The quantized matrix under <paramref name="matrix"/> (itself, or the one an AWQ wrapper scales for), or null for float weights.</summary>
    public static QuantizedMatrix? Quantized(IWeightMatrix matrix) => matrix switch
    {
        QuantizedMatrix q => q,
        InputScaledMatrix s => s.Matrix,
        _ => null,
    };

    private static EncoderWeights Load(GgufFile file, Func<string, GgufTensorInfo, IWeightMatrix> matrixFactory)
    {
        BertConfig config = BertConfig.FromGguf(file);
        var matrices = new List<(string, IWeightMatrix)>();
        IWeightMatrix Matrix(int layer, string role)
        {
            string name = BertNames.Layer(layer, role + ".weight");
            IWeightMatrix m = matrixFactory(name, file.GetTensor(name));
            matrices.Add((name, m));
            return m;
        }

        float[] Vector(int layer, string role) => ReadFloats(file, BertNames.Layer(layer, role));

        var layers = new LayerWeights[config.Layers];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new LayerWeights
            {
                Query = Matrix(i, "attn_q"),
                Key = Matrix(i, "attn_k"),
                Value = Matrix(i, "attn_v"),
                Output = Matrix(i, "attn_output"),
                Up = Matrix(i, "ffn_up"),
                Down = Matrix(i, "ffn_down"),
                QueryBias = Vector(i, "attn_q.bias"),
                KeyBias = Vector(i, "attn_k.bias"),
                ValueBias = Vector(i, "attn_v.bias"),
                OutputBias = Vector(i, "attn_output.bias"),
                AttentionNormWeight = Vector(i, "attn_output_norm.weight"),
                AttentionNormBias = Vector(i, "attn_output_norm.bias"),
                UpBias = Vector(i, "ffn_up.bias"),
                DownBias = Vector(i, "ffn_down.bias"),
                OutputNormWeight = Vector(i, "layer_output_norm.weight"),
                OutputNormBias = Vector(i, "layer_output_norm.bias"),
            };
        }

        return new EncoderWeights(file, config, layers, matrices);
    }

    /// <summary>A copy of an F32 tensor's values.</summary>
    public static float[] ReadFloats(GgufFile file, string name)
    {
        GgufTensorInfo info = file.GetTensor(name);
        if (info.Type != QuantType.F32)
        {
            throw new InvalidDataException($"Tensor '{name}' is {info.Type}; the converter writes F32.");
        }

        return MemoryMarshal.Cast<byte, float>(file.GetTensorData(info)).ToArray();
    }
}
