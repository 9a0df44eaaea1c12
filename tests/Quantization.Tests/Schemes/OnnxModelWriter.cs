using System.Text;

namespace Quantization.Tests.Schemes;

/// <summary>
/// Writes the few protobuf fields of an ONNX model with one node (ModelProto → GraphProto → NodeProto, TensorProto
/// initializers, ValueInfoProto inputs and outputs), so the tests can hand ONNX Runtime a model without an ONNX library.
/// Field numbers are those of onnx.proto.
/// </summary>
public static class OnnxModelWriter
{
    public const int Float = 1;
    public const int UInt8 = 2;

    public sealed record Initializer(string Name, int DataType, long[] Dims, byte[] Raw);

    public static byte[] SingleNode(string opType, string domain, int domainVersion, (string Name, long Value)[] attributes,
                                    string[] nodeInputs, (string Name, long[] Dims) input, (string Name, long[] Dims) output,
                                    Initializer[] initializers)
    {
        var node = new Message();
        foreach (string name in nodeInputs)
        {
            node.String(1, name);
        }

        node.String(2, output.Name).String(3, "node").String(4, opType).String(7, domain);
        foreach ((string name, long value) in attributes)
        {
            node.Nested(5, new Message().String(1, name).Varint(3, value).Varint(20, 2)); // AttributeProto, type INT
        }

        var graph = new Message().Nested(1, node).String(2, "graph");
        foreach (Initializer init in initializers)
        {
            var tensor = new Message();
            foreach (long d in init.Dims)
            {
                tensor.Varint(1, d);
            }

            graph.Nested(5, tensor.Varint(2, init.DataType).String(8, init.Name).Bytes(9, init.Raw));
        }

        graph.Nested(11, ValueInfo(input.Name, input.Dims)).Nested(12, ValueInfo(output.Name, output.Dims));
        return new Message()
            .Varint(1, 8) // ir_version
            .String(2, "Quantization.Tests")
            .Nested(7, graph)
            .Nested(8, new Message().String(1, "").Varint(2, 17))
            .Nested(8, new Message().String(1, domain).Varint(2, domainVersion))
            .ToArray();
    }

    private static Message ValueInfo(string name, long[] dims)
    {
        var shape = new Message();
        foreach (long d in dims)
        {
            shape.Nested(1, new Message().Varint(1, d));
        }

        var tensorType = new Message().Varint(1, Float).Nested(2, shape);
        return new Message().String(1, name).Nested(2, new Message().Nested(1, tensorType));
    }

    private sealed class Message
    {
        private readonly MemoryStream _stream = new();

        public Message Varint(int field, long value)
        {
            Key(field, 0);
            Raw((ulong)value);
            return this;
        }

        public Message Bytes(int field, byte[] bytes)
        {
            Key(field, 2);
            Raw((ulong)bytes.Length);
            _stream.Write(bytes);
            return this;
        }

        public Message String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Message Nested(int field, Message message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private void Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
        }
    }
}
