using System.Runtime.InteropServices;

namespace Quantization.Samples.Embeddings.Onnx;

/// <summary>An ONNX tensor (TensorProto): name, shape and float data (only FLOAT tensors are decoded).</summary>
internal sealed class OnnxTensor(string name, long[] dims, int dataType, ReadOnlyMemory<byte> rawData, float[]? floatData, long[]? int64Data)
{
    public const int FloatType = 1;
    public const int Int64Type = 7;

    public string Name { get; } = name;

    public long[] Dims { get; } = dims;

    public int DataType { get; } = dataType;

    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The values of a FLOAT tensor, from raw_data (little-endian) or float_data.</summary>
    public float[] ToFloats()
    {
        if (DataType != FloatType)
        {
            throw new InvalidDataException($"Tensor '{Name}' has ONNX data type {DataType}, not FLOAT.");
        }

        if (floatData is not null)
        {
            return floatData;
        }

        if (rawData.Length != ElementCount * sizeof(float))
        {
            throw new InvalidDataException($"Tensor '{Name}' has {rawData.Length} bytes of raw data for {ElementCount} floats.");
        }

        return MemoryMarshal.Cast<byte, float>(rawData.Span).ToArray();
    }

    /// <summary>The values of an INT64 tensor.</summary>
    public long[] ToInt64s()
    {
        if (DataType != Int64Type)
        {
            throw new InvalidDataException($"Tensor '{Name}' has ONNX data type {DataType}, not INT64.");
        }

        return int64Data ?? MemoryMarshal.Cast<byte, long>(rawData.Span).ToArray();
    }

    public static OnnxTensor Parse(ReadOnlyMemory<byte> message)
    {
        var reader = new ProtobufReader(message);
        var dims = new List<long>();
        List<float>? floats = null;
        List<long>? int64s = null;
        string name = "";
        int dataType = 0;
        ReadOnlyMemory<byte> raw = default;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1: reader.ReadInt64s(wire, dims); break;
                case 2: dataType = (int)reader.ReadVarint(); break;
                case 4: reader.ReadFloats(wire, floats ??= []); break;
                case 7: reader.ReadInt64s(wire, int64s ??= []); break;
                case 8: name = reader.ReadString(); break;
                case 9: raw = reader.ReadBytes(); break;
                case 14 when reader.ReadVarint() != 0:
                    throw new InvalidDataException($"Tensor '{name}' keeps its data in an external file; only embedded data is supported.");
                default: reader.Skip(wire); break;
            }
        }

        return new OnnxTensor(name, [.. dims], dataType, raw, floats?.ToArray(), int64s?.ToArray());
    }
}

/// <summary>An ONNX node (NodeProto): operator, inputs, outputs and the tensor-valued attributes (for Constant).</summary>
internal sealed record OnnxNode(string Name, string OpType, string[] Inputs, string[] Outputs, OnnxTensor? ValueAttribute, float? FloatAttribute)
{
    public static OnnxNode Parse(ReadOnlyMemory<byte> message)
    {
        var reader = new ProtobufReader(message);
        var inputs = new List<string>();
        var outputs = new List<string>();
        string name = "", op = "";
        OnnxTensor? value = null;
        float? epsilon = null;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1: inputs.Add(reader.ReadString()); break;
                case 2: outputs.Add(reader.ReadString()); break;
                case 3: name = reader.ReadString(); break;
                case 4: op = reader.ReadString(); break;
                case 5: ReadAttribute(reader.ReadBytes(), ref value, ref epsilon); break;
                default: reader.Skip(wire); break;
            }
        }

        return new OnnxNode(name, op, [.. inputs], [.. outputs], value, epsilon);
    }

    // AttributeProto: name (1), f (2), t (5). Only "value" (a Constant's tensor) and "epsilon" (LayerNormalization) matter.
    private static void ReadAttribute(ReadOnlyMemory<byte> message, ref OnnxTensor? value, ref float? epsilon)
    {
        var reader = new ProtobufReader(message);
        string name = "";
        OnnxTensor? t = null;
        float? f = null;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            switch (field)
            {
                case 1: name = reader.ReadString(); break;
                case 2: f = reader.ReadFloat(); break;
                case 5: t = OnnxTensor.Parse(reader.ReadBytes()); break;
                default: reader.Skip(wire); break;
            }
        }

        if (name == "value")
        {
            value = t;
        }
        else if (name == "epsilon")
        {
            epsilon = f;
        }
    }
}

/// <summary>The graph of an ONNX model (ModelProto.graph): nodes in order, and the initializers by name.</summary>
internal sealed class OnnxGraph
{
    private OnnxGraph(List<OnnxNode> nodes, Dictionary<string, OnnxTensor> initializers)
    {
        Nodes = nodes;
        Initializers = initializers;
    }

    public IReadOnlyList<OnnxNode> Nodes { get; }

    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }

    /// <summary>Parses a serialized ModelProto.</summary>
    public static OnnxGraph Parse(ReadOnlyMemory<byte> model)
    {
        var reader = new ProtobufReader(model);
        ReadOnlyMemory<byte>? graph = null;
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.ReadKey();
            if (field == 7 && wire == ProtobufReader.LengthDelimited)
            {
                graph = reader.ReadBytes();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        if (graph is null)
        {
            throw new InvalidDataException("The ONNX model has no graph.");
        }

        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var g = new ProtobufReader(graph.Value);
        while (!g.AtEnd)
        {
            (int field, int wire) = g.ReadKey();
            switch (field)
            {
                case 1: nodes.Add(OnnxNode.Parse(g.ReadBytes())); break;
                case 5:
                    OnnxTensor t = OnnxTensor.Parse(g.ReadBytes());
                    initializers[t.Name] = t;
                    break;
                default: g.Skip(wire); break;
            }
        }

        return new OnnxGraph(nodes, initializers);
    }
}
