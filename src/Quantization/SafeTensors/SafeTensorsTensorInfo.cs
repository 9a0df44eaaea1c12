namespace Quantization.SafeTensors;

/// <summary>
/// A tensor's entry in a safetensors header: name, element type, shape (row-major: the last dimension is the
/// contiguous one) and where its bytes are, relative to the start of the data section.
/// </summary>
public sealed class SafeTensorsTensorInfo
{
    private readonly long[] _shape;

    internal SafeTensorsTensorInfo(string name, SafeTensorsDType dtype, long[] shape, long begin, long end, long elementCount)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        Begin = begin;
        End = end;
        ElementCount = elementCount;
        Columns = shape.Length == 0 ? 1 : shape[^1];
        long rows = Columns == 0 ? 0 : 1;
        for (int i = 0; i < shape.Length - 1 && rows != 0; i++)
        {
            rows *= shape[i]; // a partial product of ElementCount (Columns > 0), so it cannot overflow
        }

        Rows = rows;
        long rowBits = Columns * SafeTensorsDTypes.GetBitSize(dtype); // bounded when parsing
        RowByteCount = rowBits % 8 == 0 ? rowBits / 8 : -1;
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>The element type's header name, e.g. <c>BF16</c>.</summary>
    public string DTypeName => SafeTensorsDTypes.GetName(DType);

    /// <summary>The dimensions, outermost first (row-major, as PyTorch and NumPy list them); empty for a scalar.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>The number of values.</summary>
    public long ElementCount { get; }

    /// <summary>The start of the tensor's bytes, relative to the data section (<c>data_offsets[0]</c>).</summary>
    public long Begin { get; }

    /// <summary>The end (exclusive) of the tensor's bytes, relative to the data section (<c>data_offsets[1]</c>).</summary>
    public long End { get; }

    /// <summary>The number of data bytes.</summary>
    public long ByteCount => End - Begin;

    /// <summary>Values per row: the last dimension, or 1 for a scalar.</summary>
    public long Columns { get; }

    /// <summary>The number of rows: the product of every dimension but the last (0 for an empty tensor).</summary>
    public long Rows { get; }

    /// <summary>Bytes per row, or −1 when a row of a sub-byte type does not end on a byte boundary.</summary>
    public long RowByteCount { get; }

    /// <summary>The shape as PyTorch prints it, e.g. <c>[4096, 11008]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", _shape) + "]";

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DTypeName} {ShapeText}";
}
