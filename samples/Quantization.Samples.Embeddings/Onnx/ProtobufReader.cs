namespace Quantization.Samples.Embeddings.Onnx;

/// <summary>
/// Reads the protobuf wire format field by field: enough for the few ONNX messages the converter needs. Length-delimited
/// fields come back as slices of the input, so the tensors' raw bytes are never copied while the graph is read.
/// </summary>
internal struct ProtobufReader(ReadOnlyMemory<byte> data)
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    private readonly ReadOnlyMemory<byte> _data = data;
    private int _position;

    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next field's key: its number and wire type.</summary>
    public (int Field, int WireType) ReadKey()
    {
        ulong key = ReadVarint();
        return ((int)(key >> 3), (int)(key & 7));
    }

    public ulong ReadVarint()
    {
        ReadOnlySpan<byte> span = _data.Span;
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= span.Length)
            {
                throw new InvalidDataException("A varint runs past the end of its message.");
            }

            byte b = span[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A varint is longer than 10 bytes.");
    }

    public ReadOnlyMemory<byte> ReadBytes()
    {
        int length = checked((int)ReadVarint());
        if (length < 0 || length > _data.Length - _position)
        {
            throw new InvalidDataException("A length-delimited field runs past the end of its message.");
        }

        ReadOnlyMemory<byte> slice = _data.Slice(_position, length);
        _position += length;
        return slice;
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes().Span);

    public float ReadFloat()
    {
        float value = BitConverter.ToSingle(_data.Span.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>Skips a field whose key was just read.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: _position += 8; break;
            case LengthDelimited: ReadBytes(); break;
            case Fixed32: _position += 4; break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {wireType}.");
        }
    }

    /// <summary>Appends a repeated int64 field, packed (one length-delimited run) or not (one varint).</summary>
    public void ReadInt64s(int wireType, List<long> destination)
    {
        if (wireType == LengthDelimited)
        {
            var packed = new ProtobufReader(ReadBytes());
            while (!packed.AtEnd)
            {
                destination.Add((long)packed.ReadVarint());
            }
        }
        else
        {
            destination.Add((long)ReadVarint());
        }
    }

    /// <summary>Appends a repeated float field, packed or not.</summary>
    public void ReadFloats(int wireType, List<float> destination)
    {
        if (wireType == LengthDelimited)
        {
            ReadOnlySpan<byte> packed = ReadBytes().Span;
            for (int i = 0; i + 4 <= packed.Length; i += 4)
            {
                destination.Add(BitConverter.ToSingle(packed.Slice(i, 4)));
            }
        }
        else
        {
            destination.Add(ReadFloat());
        }
    }
}
