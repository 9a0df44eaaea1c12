namespace Quantization.Gguf;

/// <summary>
/// A tensor's entry in a GGUF file: name, element type, dimensions (ggml order: <c>Dimensions[0]</c> is the row
/// length, the contiguous dimension) and where its bytes are.
/// </summary>
public sealed class GgufTensorInfo
{
    private readonly long[] _dimensions;

    internal GgufTensorInfo(string name, QuantType type, long[] dimensions, long offset, long byteCount)
    {
        Name = name;
        Type = type;
        _dimensions = dimensions;
        Offset = offset;
        ByteCount = byteCount;
        long elements = 1;
        foreach (long d in dimensions)
        {
            elements *= d;
        }

        ElementCount = elements;
    }

    /// <summary>The tensor's name (under 64 bytes of UTF-8).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public QuantType Type { get; }

    /// <summary>The geometry of <see cref="Type"/>.</summary>
    public QuantFormat Format => QuantFormat.Get(Type);

    /// <summary>The dimensions in ggml order: the row length first. Between 0 and 4 entries, as stored in the file.</summary>
    public IReadOnlyList<long> Dimensions => _dimensions;

    /// <summary>The number of values.</summary>
    public long ElementCount { get; }

    /// <summary>The number of data bytes (without padding).</summary>
    public long ByteCount { get; }

    /// <summary>Where the data starts, relative to the file's data section (a multiple of the alignment).</summary>
    public long Offset { get; }

    /// <summary>Values per row: <c>Dimensions[0]</c>, or 1 for a tensor without dimensions.</summary>
    public long RowLength => _dimensions.Length == 0 ? 1 : _dimensions[0];

    /// <summary>The number of rows: the product of every dimension but the first (0 for an empty tensor).</summary>
    public long RowCount => RowLength == 0 ? 0 : ElementCount / RowLength;

    /// <summary>Bytes per row.</summary>
    public long RowByteCount => RowLength / Format.BlockSize * Format.BytesPerBlock;

    /// <summary>The shape as ggml prints it, e.g. <c>4096 x 32000</c>.</summary>
    public string ShapeText => _dimensions.Length == 0 ? "scalar" : string.Join(" x ", _dimensions);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {QuantFormat.Get(Type).Name} [{ShapeText}]";
}
