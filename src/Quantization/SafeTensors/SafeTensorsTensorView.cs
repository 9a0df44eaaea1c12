using System.Buffers;
using System.Buffers.Binary;
using Quantization.Schemes;

namespace Quantization.SafeTensors;

/// <summary>
/// A zero-copy view of one tensor's bytes in an open <see cref="SafeTensorsFile"/>. Tensors under 2 GiB are one span
/// (<see cref="Span"/>); any tensor whose rows end on byte boundaries can be read as ranges of whole rows
/// (<see cref="GetRows"/>), each under 2 GiB. A row is the last dimension (safetensors is row-major). The spans point
/// into the file's memory map and are valid until the file is disposed; <see cref="Memory"/>,
/// <see cref="GetRowsMemory"/> and <see cref="AsMatrix()"/> wrap the same bytes without a copy and throw
/// <see cref="ObjectDisposedException"/> once the file is disposed.
/// </summary>
public readonly struct SafeTensorsTensorView
{
    // Rows converted to float per step when quantizing, so the scratch stays small whatever the tensor's size.
    private const int QuantizeChunkValues = 1 << 20;

    private readonly SafeTensorsFile _file;
    private readonly long _fileOffset;

    internal SafeTensorsTensorView(SafeTensorsFile file, SafeTensorsTensorInfo info, long fileOffset)
    {
        _file = file;
        Info = info;
        _fileOffset = fileOffset;
    }

    /// <summary>The tensor this view reads.</summary>
    public SafeTensorsTensorInfo Info { get; }

    /// <summary>The element type.</summary>
    public SafeTensorsDType DType => Info.DType;

    /// <summary>Number of rows (the product of every dimension but the last).</summary>
    public long Rows => Info.Rows;

    /// <summary>Values per row (the last dimension).</summary>
    public long Columns => Info.Columns;

    /// <summary>Bytes in the tensor.</summary>
    public long ByteCount => Info.ByteCount;

    /// <summary>Whether the whole tensor fits one span (<see cref="Span"/> works).</summary>
    public bool FitsInSpan => Info.ByteCount <= int.MaxValue;

    /// <summary>Whether <see cref="ToSingle"/> and <see cref="GetRowsAsSingle"/> can read this dtype: F32, F16, BF16, F64, F8_E4M3, F8_E5M2 or F8_E8M0.</summary>
    public bool CanReadAsSingle => DType is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64
        or SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2 or SafeTensorsDType.F8E8M0;

    /// <summary>
    /// The ggml type whose bytes are the same as this dtype's (F32, F16, BF16), so the tensor multiplies in place
    /// through <see cref="AsMatrix()"/>; <see langword="null"/> for the others.
    /// </summary>
    public QuantType? MatrixType => DType switch
    {
        SafeTensorsDType.F32 => QuantType.F32,
        SafeTensorsDType.F16 => QuantType.F16,
        SafeTensorsDType.BF16 => QuantType.BF16,
        _ => null,
    };

    /// <summary>The whole tensor's bytes.</summary>
    /// <exception cref="InvalidOperationException">The tensor is 2 GiB or larger (use <see cref="GetRows"/>).</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> Span
    {
        get
        {
            if (!FitsInSpan)
            {
                ThrowTooLarge();
            }

            return _file.GetBytes(_fileOffset, (int)Info.ByteCount);
        }
    }

    /// <summary>The whole tensor's bytes as memory over the file's map (no copy).</summary>
    /// <exception cref="InvalidOperationException">The tensor is 2 GiB or larger (use <see cref="GetRowsMemory"/>).</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlyMemory<byte> Memory
    {
        get
        {
            if (!FitsInSpan)
            {
                ThrowTooLarge();
            }

            return _file.GetMemory(_fileOffset, (int)Info.ByteCount);
        }
    }

    /// <summary>The most whole rows one <see cref="GetRows"/> call can return (at least 1 unless the tensor is empty).</summary>
    /// <exception cref="NotSupportedException">The rows of this sub-byte tensor do not end on byte boundaries.</exception>
    public int MaxRowsPerSpan
    {
        get
        {
            long rowBytes = RowBytes();
            return rowBytes == 0 ? (int)Math.Min(Rows, int.MaxValue) : (int)Math.Min(Rows, int.MaxValue / rowBytes);
        }
    }

    /// <summary>The bytes of <paramref name="count"/> whole rows starting at row <paramref name="first"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor, or its bytes do not fit one span.</exception>
    /// <exception cref="NotSupportedException">The rows of this sub-byte tensor do not end on byte boundaries.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetRows(long first, int count)
    {
        long bytes = CheckRows(first, count);
        return _file.GetBytes(_fileOffset + first * Info.RowByteCount, (int)bytes);
    }

    /// <summary>The bytes of <paramref name="count"/> whole rows starting at row <paramref name="first"/>, as memory over the file's map (no copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor, or its bytes do not fit one memory.</exception>
    /// <exception cref="NotSupportedException">The rows of this sub-byte tensor do not end on byte boundaries.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlyMemory<byte> GetRowsMemory(long first, int count)
    {
        long bytes = CheckRows(first, count);
        return _file.GetMemory(_fileOffset + first * Info.RowByteCount, (int)bytes);
    }

    /// <summary>Converts the whole tensor to floats (see <see cref="CanReadAsSingle"/> for the dtypes).</summary>
    /// <param name="destination">Exactly one float per value.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not have <see cref="SafeTensorsTensorInfo.ElementCount"/> values.</exception>
    /// <exception cref="NotSupportedException">The dtype is not a floating-point type this version reads.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void ToSingle(Span<float> destination)
    {
        if (destination.Length != Info.ElementCount)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has {destination.Length} values; tensor '{Info.Name}' has {Info.ElementCount}.");
        }

        Decode(DType, Span, destination, Info.Name);
    }

    /// <summary>Converts <paramref name="count"/> whole rows starting at row <paramref name="first"/> to floats.</summary>
    /// <param name="first">The first row.</param>
    /// <param name="count">The number of rows.</param>
    /// <param name="destination">Exactly <paramref name="count"/> × <see cref="Columns"/> floats.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has another length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor.</exception>
    /// <exception cref="NotSupportedException">The dtype is not a floating-point type this version reads.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void GetRowsAsSingle(long first, int count, Span<float> destination)
    {
        if (destination.Length != count * Columns)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has {destination.Length} values; {count} rows of tensor '{Info.Name}' have {count * Columns}.");
        }

        Decode(DType, GetRows(first, count), destination, Info.Name);
    }

    /// <summary>
    /// An F32, F16 or BF16 tensor as a matrix of <see cref="Rows"/> × <see cref="Columns"/> that multiplies straight
    /// from the file's map (no copy): those dtypes are byte for byte ggml's F32, F16 and BF16 rows.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor is 2 GiB or larger (use <see cref="AsMatrices"/>).</exception>
    /// <exception cref="NotSupportedException">The dtype is not F32, F16 or BF16 (see <see cref="Quantize"/>), or a row is longer than a matrix takes.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public QuantizedMatrix AsMatrix()
    {
        if (!FitsInSpan)
        {
            ThrowTooLarge();
        }

        return AsMatrix(0, (int)Rows);
    }

    /// <summary>Rows <paramref name="firstRow"/> to <paramref name="firstRow"/> + <paramref name="rowCount"/> − 1 as a matrix over the file's map (no copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor, or its bytes do not fit one memory.</exception>
    /// <exception cref="NotSupportedException">The dtype is not F32, F16 or BF16, or a row is longer than a matrix takes.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public QuantizedMatrix AsMatrix(long firstRow, int rowCount)
    {
        QuantType type = MatrixType ?? throw new NotSupportedException(
            $"Tensor '{Info.Name}' is {Info.DTypeName}; only F32, F16 and BF16 tensors multiply in place. Quantize it first.");
        if (Columns > int.MaxValue || Columns == 0)
        {
            throw new NotSupportedException($"Tensor '{Info.Name}' has rows of {Columns} values, which a matrix cannot take.");
        }

        return new QuantizedMatrix(type, GetRowsMemory(firstRow, rowCount), rowCount, (int)Columns);
    }

    /// <summary>
    /// The tensor as consecutive row-range matrices of at most <see cref="MaxRowsPerSpan"/> rows each, all over the
    /// file's map (no copy): how a tensor of 2 GiB or more is multiplied.
    /// </summary>
    /// <exception cref="NotSupportedException">The dtype is not F32, F16 or BF16.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public IReadOnlyList<QuantizedMatrix> AsMatrices()
    {
        var matrices = new List<QuantizedMatrix>();
        int step = Math.Max(1, MaxRowsPerSpan);
        for (long first = 0; first < Rows; first += step)
        {
            matrices.Add(AsMatrix(first, (int)Math.Min(step, Rows - first)));
        }

        return matrices;
    }

    /// <summary>
    /// Quantizes the tensor, read as <see cref="Rows"/> rows of <see cref="Columns"/> values, into
    /// <paramref name="type"/> with <see cref="Quantizer"/>: the bytes are those of quantizing the floats
    /// <see cref="ToSingle"/> gives. Rows are converted a chunk at a time, so memory stays small.
    /// </summary>
    /// <param name="type">The target format (one without a per-tensor trailer).</param>
    /// <param name="destination"><see cref="Quantizer.GetByteCount"/>(<paramref name="type"/>, elements) bytes.</param>
    /// <param name="importance">Empty, or one weight per column, as for <see cref="Quantizer.Quantize"/>.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to use; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong, <see cref="Columns"/> is not a multiple of the block size, or a value is not finite.</exception>
    /// <exception cref="NotSupportedException">The dtype cannot be read as floats, or <paramref name="type"/> has a per-tensor trailer.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public void Quantize(QuantType type, Span<byte> destination, ReadOnlySpan<float> importance = default, int maxDegreeOfParallelism = -1)
    {
        QuantFormat format = QuantFormat.Get(type);
        if (format.TrailerBytes != 0)
        {
            throw new NotSupportedException($"{format.Name} has a per-tensor trailer; quantize the tensor's floats (ToSingle) in one call instead.");
        }

        if (Columns == 0 || Columns > int.MaxValue || Columns % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(type), $"Tensor '{Info.Name}' has rows of {Columns} values, not a positive multiple of the {format.Name} block size {format.BlockSize}.");
        }

        long rowBytes = Quantizer.GetByteCount(type, Columns);
        if (destination.Length != rowBytes * Rows)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has {destination.Length} bytes; tensor '{Info.Name}' in {format.Name} takes {rowBytes * Rows}.");
        }

        int chunkRows = (int)Math.Clamp(QuantizeChunkValues / Columns, 1, Rows == 0 ? 1 : Rows);
        float[] scratch = ArrayPool<float>.Shared.Rent(checked(chunkRows * (int)Columns));
        try
        {
            for (long first = 0; first < Rows; first += chunkRows)
            {
                int count = (int)Math.Min(chunkRows, Rows - first);
                Span<float> values = scratch.AsSpan(0, count * (int)Columns);
                GetRowsAsSingle(first, count, values);
                Quantizer.QuantizeParallel(type, values, destination.Slice((int)(first * rowBytes), (int)(count * rowBytes)), (int)Columns, importance, maxDegreeOfParallelism);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// The tensor quantized into <paramref name="type"/> (see <see cref="Quantize"/>) as a matrix of <see cref="Rows"/> ×
    /// <see cref="Columns"/> over a new array: the way a dense checkpoint tensor becomes a quantized weight.
    /// </summary>
    /// <param name="type">The target format (one without a per-tensor trailer).</param>
    /// <param name="importance">Empty, or one weight per column.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to use; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException"><see cref="Columns"/> is not a multiple of the block size, or a value is not finite.</exception>
    /// <exception cref="NotSupportedException">The dtype cannot be read as floats, <paramref name="type"/> has a per-tensor trailer or cannot be multiplied, or the result would not fit one array.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public QuantizedMatrix ToQuantizedMatrix(QuantType type, ReadOnlySpan<float> importance = default, int maxDegreeOfParallelism = -1)
    {
        long bytes = Rows * Quantizer.GetByteCount(type, Columns % QuantFormat.Get(type).BlockSize == 0 ? Columns : 0);
        if (bytes > Array.MaxLength || Rows > int.MaxValue || Columns > int.MaxValue)
        {
            throw new NotSupportedException($"Tensor '{Info.Name}' in {QuantFormat.Get(type).Name} would take {bytes} bytes, more than one array holds; quantize it by row ranges.");
        }

        var weights = new byte[bytes];
        Quantize(type, weights, importance, maxDegreeOfParallelism);
        return new QuantizedMatrix(type, weights, (int)Rows, (int)Columns);
    }

    private static void Decode(SafeTensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination, string name)
    {
        switch (dtype)
        {
            case SafeTensorsDType.F32:
                Quantizer.Dequantize(QuantType.F32, source, destination);
                break;
            case SafeTensorsDType.F16:
                Quantizer.Dequantize(QuantType.F16, source, destination);
                break;
            case SafeTensorsDType.BF16:
                Quantizer.Dequantize(QuantType.BF16, source, destination);
                break;
            case SafeTensorsDType.F64:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(i * 8)..]);
                }

                break;
            case SafeTensorsDType.F8E4M3:
                Fp8E4M3.ToSingle(source, destination);
                break;
            case SafeTensorsDType.F8E5M2:
                Fp8E5M2.ToSingle(source, destination);
                break;
            case SafeTensorsDType.F8E8M0:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = E8M0ToSingle(source[i]);
                }

                break;
            default:
                throw new NotSupportedException($"Tensor '{name}' is {SafeTensorsDTypes.GetName(dtype)}, which this version does not convert to floats.");
        }
    }

    /// <summary>2^(code − 127); code 0 is the float32 subnormal 2^−127, 0xFF is NaN.</summary>
    private static float E8M0ToSingle(byte code) => code switch
    {
        0xFF => float.NaN,
        0 => BitConverter.Int32BitsToSingle(0x0040_0000),
        _ => BitConverter.Int32BitsToSingle(code << 23),
    };

    private long RowBytes()
    {
        if (Info.RowByteCount < 0)
        {
            throw new NotSupportedException($"Tensor '{Info.Name}' has rows of {Columns} {Info.DTypeName} values, which do not end on byte boundaries; read it whole.");
        }

        return Info.RowByteCount;
    }

    private long CheckRows(long first, int count)
    {
        long rowBytes = RowBytes();
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, Rows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Rows - first);
        long bytes = count * rowBytes; // ≤ ByteCount, no overflow
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, int.MaxValue, nameof(count));
        return bytes;
    }

    private void ThrowTooLarge() =>
        throw new InvalidOperationException($"Tensor '{Info.Name}' has {Info.ByteCount} bytes, more than one span holds; read it by row ranges.");
}
