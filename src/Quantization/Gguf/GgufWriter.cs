using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quantization.IO;

namespace Quantization.Gguf;

/// <summary>
/// Writes a GGUF v3 file as a stream: declare the metadata and every tensor (name, type, dimensions) first, then
/// stream each tensor's bytes in order, in as many chunks as convenient. Only the header is held in memory; the
/// tensor data goes straight to the destination, padded to the alignment as ggml's loader expects.
/// </summary>
/// <remarks>
/// The alignment is <c>general.alignment</c> when that key is set (a UINT32 power of two), else 32.
/// <c>general.quantization_version</c> is set to <see cref="GgufConstants.QuantizationVersion"/> unless the
/// metadata already has it. Every argument is checked before anything is written.
/// </remarks>
public sealed class GgufWriter : IDisposable
{
    private static readonly byte[] s_zeros = new byte[4096];

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ILogger _logger;
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private long _nextOffset;
    private long _dataRemaining;
    private int _current;
    private long _currentWritten;
    private bool _headerWritten;
    private bool _finished;
    private bool _disposed;
    private AtomicFileTarget? _target;

    /// <summary>Creates a writer onto <paramref name="destination"/>, which must be writable.</summary>
    /// <param name="destination">Where the file goes, from its current position.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="destination"/> open.</param>
    /// <param name="logger">Receives a summary when the file is finished.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not writable.</exception>
    public GgufWriter(Stream destination, bool leaveOpen = false, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The stream is not writable.");
        }

        _stream = destination;
        _leaveOpen = leaveOpen;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// A writer that creates (or replaces) the file at <paramref name="path"/> atomically: the bytes go to
    /// <c>path + ".tmp"</c>, which <see cref="Finish"/> moves onto <paramref name="path"/>. A writer disposed without
    /// <see cref="Finish"/> (an exception, a cancellation) deletes the temporary file, so no partial file is left and an
    /// existing file at <paramref name="path"/> is untouched.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public static GgufWriter Create(string path, ILogger? logger = null)
    {
        AtomicFileTarget target = AtomicFileTarget.Create(path, out FileStream stream);
        return new GgufWriter(stream, leaveOpen: false, logger) { _target = target };
    }

    /// <summary>The data alignment the file will use.</summary>
    public int Alignment { get; private set; } = GgufConstants.DefaultAlignment;

    /// <summary>The metadata declared so far, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _metadata;

    /// <summary>Bytes written to the destination so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>: replaces the value in place if the key exists, else appends it.</summary>
    /// <exception cref="ArgumentException">The key is empty or over 65535 bytes, or <c>general.alignment</c> is not a UINT32 power of two.</exception>
    /// <exception cref="InvalidOperationException">Tensor data has already been written.</exception>
    public void SetMetadata(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfHeaderWritten();
        if (Encoding.UTF8.GetByteCount(key) > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(key), "Keys are at most 65535 bytes of UTF-8.");
        }

        if (key == GgufConstants.AlignmentKey)
        {
            uint a = value.Type == GgufValueType.UInt32 ? value.AsUInt32() : 0;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1u << 30 || _tensors.Count > 0)
            {
                ThrowHelper.ThrowArgument(nameof(value), $"'{key}' must be a UInt32 power of two (up to 2^30), set before any tensor is added.");
            }

            Alignment = (int)a;
        }

        int index = _metadata.FindIndex(p => p.Key == key);
        if (index >= 0)
        {
            _metadata[index] = new(key, value);
        }
        else
        {
            _metadata.Add(new(key, value));
        }
    }

    /// <summary>Declares the next tensor. Its data is written, after every tensor is declared, in declaration order.</summary>
    /// <param name="name">Unique, under 64 bytes of UTF-8.</param>
    /// <param name="type">A ggml type.</param>
    /// <param name="dimensions">Up to 4 non-negative extents, the row length first; the row length must be a multiple of the type's block size.</param>
    /// <returns>The tensor's data size in bytes.</returns>
    /// <exception cref="ArgumentException">A rule above is broken.</exception>
    /// <exception cref="InvalidOperationException">Tensor data has already been written.</exception>
    public long AddTensor(string name, QuantType type, ReadOnlySpan<long> dimensions)
    {
        ArgumentNullException.ThrowIfNull(name);
        ThrowIfHeaderWritten();
        if (Encoding.UTF8.GetByteCount(name) >= GgufConstants.MaxTensorNameBytes)
        {
            ThrowHelper.ThrowArgument(nameof(name), $"Tensor name '{name}' is {Encoding.UTF8.GetByteCount(name)} bytes; names must be under {GgufConstants.MaxTensorNameBytes}.");
        }

        if (_names.Contains(name))
        {
            ThrowHelper.ThrowArgument(nameof(name), $"A tensor named '{name}' was already added.");
        }

        if (!QuantFormat.TryGet(type, out QuantFormat? format) || !format.IsGgmlType)
        {
            ThrowHelper.ThrowArgument(nameof(type), $"{type} is not a ggml type; a GGUF file cannot hold it.");
        }

        if (dimensions.Length > GgufConstants.MaxDimensions)
        {
            ThrowHelper.ThrowArgument(nameof(dimensions), $"{dimensions.Length} dimensions; at most {GgufConstants.MaxDimensions} are allowed.");
        }

        long elements = 1;
        foreach (long extent in dimensions)
        {
            if (extent < 0 || (extent != 0 && elements > long.MaxValue / extent))
            {
                ThrowHelper.ThrowArgument(nameof(dimensions), "Extents must be non-negative and their product must fit in 63 bits.");
            }

            elements *= extent;
        }

        long rowLength = dimensions.IsEmpty ? 1 : dimensions[0];
        if (rowLength % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(dimensions), $"The row length {rowLength} is not a multiple of the {format.Name} block size {format.BlockSize}.");
        }

        long bytes = checked(elements / format.BlockSize * format.BytesPerBlock);
        long padded = checked(bytes + (Alignment - bytes % Alignment) % Alignment);
        long offset = _nextOffset;
        _nextOffset = checked(_nextOffset + padded);
        _names.Add(name);
        _tensors.Add(new PendingTensor(name, format, dimensions.ToArray(), offset, bytes));
        _dataRemaining += bytes;
        return bytes;
    }

    /// <summary>
    /// Appends <paramref name="data"/> to the tensor data: the bytes of the first tensor not yet complete, running on
    /// into the next ones. The header is written on the first call.
    /// </summary>
    /// <exception cref="ArgumentException">More bytes than the declared tensors still need.</exception>
    /// <exception cref="InvalidOperationException">The writer is finished.</exception>
    public void WriteTensorData(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            throw new InvalidOperationException("The file is already finished.");
        }

        if (data.Length > _dataRemaining)
        {
            ThrowHelper.ThrowArgument(nameof(data), $"{data.Length} bytes given; the declared tensors need only {_dataRemaining} more.");
        }

        WriteHeaderOnce();
        while (!data.IsEmpty || (_current < _tensors.Count && _tensors[_current].ByteCount == _currentWritten))
        {
            PendingTensor tensor = _tensors[_current];
            int take = (int)Math.Min(data.Length, tensor.ByteCount - _currentWritten);
            Write(data[..take]);
            data = data[take..];
            _currentWritten += take;
            _dataRemaining -= take;
            if (_currentWritten == tensor.ByteCount)
            {
                Pad();
                _current++;
                _currentWritten = 0;
            }
        }
    }

    /// <summary>Writes the header if no data was written (a file without tensor data), checks every tensor is complete, and flushes.</summary>
    /// <exception cref="InvalidOperationException">A declared tensor has not received all its bytes.</exception>
    public void Finish()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            return;
        }

        if (_dataRemaining > 0)
        {
            PendingTensor t = _tensors[_current];
            throw new InvalidOperationException($"Tensor '{t.Name}' has {_currentWritten} of its {t.ByteCount} bytes; {_dataRemaining} bytes of tensor data are missing.");
        }

        WriteHeaderOnce();
        WriteTensorData([]); // pads the trailing zero-byte tensors, if any
        _stream.Flush();
        if (_target is not null)
        {
            // A file made by Create: complete on disk, then moved into place in one step.
            _target.Commit(_stream);
            _target = null;
        }

        _finished = true;
        GgufLog.Written(_logger, _tensors.Count, _metadata.Count, BytesWritten);
    }

    /// <summary>
    /// Closes the destination unless the writer was created with <c>leaveOpen</c>. Does not finish the file: a writer
    /// from <see cref="Create"/> that was not finished deletes its temporary file.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }

        _target?.Abandon();
        _target = null;
    }

    private void ThrowIfHeaderWritten()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_headerWritten)
        {
            throw new InvalidOperationException("Metadata and tensors must be declared before tensor data is written.");
        }
    }

    private void WriteHeaderOnce()
    {
        if (_headerWritten)
        {
            return;
        }

        if (!_metadata.Exists(p => p.Key == GgufConstants.QuantizationVersionKey))
        {
            _metadata.Add(new(GgufConstants.QuantizationVersionKey, GgufValue.FromUInt32(GgufConstants.QuantizationVersion)));
        }

        var header = new ArrayBufferWriter<byte>(4096);
        PutUInt32(header, GgufConstants.Magic);
        PutUInt32(header, GgufConstants.Version);
        PutUInt64(header, (ulong)_tensors.Count);
        PutUInt64(header, (ulong)_metadata.Count);
        foreach (KeyValuePair<string, GgufValue> pair in _metadata)
        {
            PutString(header, pair.Key);
            PutUInt32(header, (uint)pair.Value.Type);
            PutValue(header, pair.Value);
        }

        foreach (PendingTensor t in _tensors)
        {
            PutString(header, t.Name);
            PutUInt32(header, (uint)t.Dimensions.Length);
            foreach (long d in t.Dimensions)
            {
                PutUInt64(header, (ulong)d);
            }

            PutUInt32(header, (uint)t.Format.Type);
            PutUInt64(header, (ulong)t.Offset);
        }

        _headerWritten = true;
        Write(header.WrittenSpan);
        Pad();
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _stream.Write(bytes);
        BytesWritten += bytes.Length;
    }

    private void Pad()
    {
        int padding = (int)((Alignment - BytesWritten % Alignment) % Alignment);
        while (padding > 0)
        {
            int n = Math.Min(padding, s_zeros.Length);
            Write(s_zeros.AsSpan(0, n));
            padding -= n;
        }
    }

    private static void PutValue(ArrayBufferWriter<byte> buffer, GgufValue value)
    {
        if (!value.IsArray)
        {
            switch (value.RawScalar)
            {
                case byte v: buffer.Write([v]); break;
                case sbyte v: buffer.Write([(byte)v]); break;
                case bool v: buffer.Write([(byte)(v ? 1 : 0)]); break;
                case ushort v: PutBytes(buffer, v); break;
                case short v: PutBytes(buffer, v); break;
                case uint v: PutBytes(buffer, v); break;
                case int v: PutBytes(buffer, v); break;
                case float v: PutBytes(buffer, v); break;
                case ulong v: PutBytes(buffer, v); break;
                case long v: PutBytes(buffer, v); break;
                case double v: PutBytes(buffer, v); break;
                case string v: PutString(buffer, v); break;
            }

            return;
        }

        PutUInt32(buffer, (uint)value.ElementType);
        System.Array elements = value.RawArray;
        PutUInt64(buffer, (ulong)elements.Length);
        switch (elements)
        {
            case byte[] a: buffer.Write(a); break;
            case sbyte[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case ushort[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case short[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case uint[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case int[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case float[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case ulong[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case long[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case double[] a: buffer.Write(MemoryMarshal.AsBytes(a.AsSpan())); break;
            case bool[] a:
                foreach (bool b in a)
                {
                    buffer.Write([(byte)(b ? 1 : 0)]);
                }

                break;
            case string[] a:
                foreach (string s in a)
                {
                    PutString(buffer, s);
                }

                break;
            case GgufValue[] a:
                foreach (GgufValue nested in a)
                {
                    PutValue(buffer, nested);
                }

                break;
        }
    }

    private static void PutBytes<T>(ArrayBufferWriter<byte> buffer, T value) where T : unmanaged =>
        buffer.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    private static void PutUInt32(ArrayBufferWriter<byte> buffer, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.GetSpan(4), value);
        buffer.Advance(4);
    }

    private static void PutUInt64(ArrayBufferWriter<byte> buffer, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    private static void PutString(ArrayBufferWriter<byte> buffer, string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        PutUInt64(buffer, (ulong)length);
        Encoding.UTF8.GetBytes(value, buffer.GetSpan(length));
        buffer.Advance(length);
    }

    private sealed record PendingTensor(string Name, QuantFormat Format, long[] Dimensions, long Offset, long ByteCount);
}
