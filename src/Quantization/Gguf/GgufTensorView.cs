namespace Quantization.Gguf;

/// <summary>
/// A zero-copy view of one tensor's bytes in an open <see cref="GgufFile"/>. Tensors under 2 GiB are one span
/// (<see cref="Span"/>); any tensor can be read as ranges of whole rows (<see cref="GetRows"/>), each range under 2 GiB.
/// The spans point into the file's memory map and are valid until the file is disposed. <see cref="Memory"/>,
/// <see cref="GetRowsMemory"/> and <see cref="AsMatrix()"/> wrap the same bytes without a copy and throw
/// <see cref="ObjectDisposedException"/> once the file is disposed, so they can be kept in long-lived objects.
/// </summary>
/// <remarks>
/// The geometry is what a row-wise kernel needs: pass <c>GetRows(first, count)</c>, <see cref="Type"/>,
/// <c>count</c> and <see cref="Columns"/> to a matrix-vector product that takes <c>ReadOnlySpan&lt;byte&gt;</c> weights.
/// </remarks>
public readonly struct GgufTensorView
{
    private readonly GgufFile _file;
    private readonly long _fileOffset;

    internal GgufTensorView(GgufFile file, GgufTensorInfo info, long fileOffset)
    {
        _file = file;
        Info = info;
        _fileOffset = fileOffset;
    }

    /// <summary>The tensor this view reads.</summary>
    public GgufTensorInfo Info { get; }

    /// <summary>The element type.</summary>
    public QuantType Type => Info.Type;

    /// <summary>Number of rows (the product of every dimension but the first).</summary>
    public long Rows => Info.RowCount;

    /// <summary>Values per row (the first dimension).</summary>
    public long Columns => Info.RowLength;

    /// <summary>Bytes per row.</summary>
    public long RowByteCount => Info.RowByteCount;

    /// <summary>Bytes in the tensor.</summary>
    public long ByteCount => Info.ByteCount;

    /// <summary>Whether the whole tensor fits one span (<see cref="Span"/> works).</summary>
    public bool FitsInSpan => Info.ByteCount <= int.MaxValue;

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

    /// <summary>The bytes of <paramref name="count"/> whole rows starting at row <paramref name="first"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor, or its bytes do not fit one span.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetRows(long first, int count)
    {
        long bytes = CheckRows(first, count);
        return _file.GetBytes(_fileOffset + first * RowByteCount, (int)bytes);
    }

    /// <summary>The most whole rows one <see cref="GetRows"/> call can return (at least 1 unless the tensor is empty).</summary>
    public int MaxRowsPerSpan => RowByteCount == 0 ? (int)Math.Min(Rows, int.MaxValue) : (int)Math.Min(Rows, int.MaxValue / RowByteCount);

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

    /// <summary>The bytes of <paramref name="count"/> whole rows starting at row <paramref name="first"/>, as memory over the file's map (no copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the tensor, or its bytes do not fit one memory.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlyMemory<byte> GetRowsMemory(long first, int count)
    {
        long bytes = CheckRows(first, count);
        return _file.GetMemory(_fileOffset + first * RowByteCount, (int)bytes);
    }

    /// <summary>
    /// The tensor as a matrix of <see cref="Rows"/> × <see cref="Columns"/> that multiplies straight from the file's map
    /// (no copy); tensors with more than two dimensions are read as their rows, like <see cref="GetRows"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor is 2 GiB or larger (use <see cref="AsMatrix(long, int)"/> or <see cref="AsMatrices"/>).</exception>
    /// <exception cref="NotSupportedException">The tensor's type cannot be multiplied.</exception>
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
    /// <exception cref="NotSupportedException">The tensor's type cannot be multiplied.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public QuantizedMatrix AsMatrix(long firstRow, int rowCount)
    {
        if (Columns > int.MaxValue)
        {
            throw new NotSupportedException($"Tensor '{Info.Name}' has rows of {Columns} values, more than a matrix takes.");
        }

        return new QuantizedMatrix(Type, GetRowsMemory(firstRow, rowCount), rowCount, (int)Columns);
    }

    /// <summary>
    /// The tensor as consecutive row-range matrices of at most <see cref="MaxRowsPerSpan"/> rows each, all over the
    /// file's map (no copy): how a tensor of 2 GiB or more is multiplied (matrix <c>i</c> gives outputs
    /// <c>i · MaxRowsPerSpan</c> onwards).
    /// </summary>
    /// <exception cref="NotSupportedException">The tensor's type cannot be multiplied.</exception>
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

    private long CheckRows(long first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, Rows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Rows - first);
        long bytes = count * RowByteCount; // count·rowBytes ≤ ByteCount, no overflow
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, int.MaxValue, nameof(count));
        return bytes;
    }

    private void ThrowTooLarge() =>
        throw new InvalidOperationException($"Tensor '{Info.Name}' has {Info.ByteCount} bytes, more than one span holds; read it by row ranges.");
}
