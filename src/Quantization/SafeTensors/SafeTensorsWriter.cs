using System.Buffers.Binary;
using System.Text;
using Quantization.IO;

namespace Quantization.SafeTensors;

/// <summary>
/// Writes a safetensors file the way the reference implementation does: tensors ordered by dtype, widest first
/// (so each tensor's data is aligned to its element size), then by name; their data contiguous from offset 0; the
/// header compact JSON with <c>__metadata__</c> first, padded with spaces to a multiple of 8 bytes behind its 8-byte
/// little-endian length. Tensors are declared with their bytes (<see cref="AddTensor"/>, which keeps a reference, not
/// a copy) and everything is written by <see cref="Finish"/>.
/// </summary>
/// <remarks>
/// The reference keeps <c>__metadata__</c> in a hash map, so its key order varies from run to run; this writer sorts
/// the keys (by UTF-8 bytes) so its output is deterministic. Strings are escaped as serde_json escapes them.
/// </remarks>
public sealed class SafeTensorsWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly SortedDictionary<string, string> _metadata = new(Utf8Comparer.Instance);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _finished;
    private bool _disposed;
    private AtomicFileTarget? _target;

    /// <summary>Creates a writer onto <paramref name="destination"/>, which must be writable.</summary>
    /// <param name="destination">Where the file goes, from its current position.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="destination"/> open.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not writable.</exception>
    public SafeTensorsWriter(Stream destination, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The stream is not writable.");
        }

        _stream = destination;
        _leaveOpen = leaveOpen;
    }

    /// <summary>
    /// A writer that creates (or replaces) the file at <paramref name="path"/> atomically: the bytes go to
    /// <c>path + ".tmp"</c>, which <see cref="Finish"/> moves onto <paramref name="path"/>. A writer disposed without
    /// <see cref="Finish"/> deletes the temporary file, so no partial file is left and an existing file is untouched.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public static SafeTensorsWriter Create(string path)
    {
        AtomicFileTarget target = AtomicFileTarget.Create(path, out FileStream stream);
        return new SafeTensorsWriter(stream, leaveOpen: false) { _target = target };
    }

    /// <summary>The bytes written by <see cref="Finish"/> (0 before).</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Sets a <c>__metadata__</c> entry (replacing an earlier value of the same key).</summary>
    /// <exception cref="ArgumentException">A string is not valid UTF-16 (a lone surrogate cannot be written as UTF-8).</exception>
    /// <exception cref="InvalidOperationException">The file is finished.</exception>
    public void SetMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfFinished();
        CheckText(key, nameof(key));
        CheckText(value, nameof(value));
        _metadata[key] = value;
    }

    /// <summary>Declares a tensor and its bytes, which must stay unchanged until <see cref="Finish"/> returns.</summary>
    /// <param name="name">A name no other tensor has; not <c>__metadata__</c>.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions, outermost first; empty for a scalar.</param>
    /// <param name="data">Exactly the bytes the shape and dtype take, little-endian, row-major.</param>
    /// <exception cref="ArgumentException">The name is taken or reserved, a dimension is negative, or the byte count does not match.</exception>
    /// <exception cref="InvalidOperationException">The file is finished.</exception>
    public void AddTensor(string name, SafeTensorsDType dtype, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ThrowIfFinished();
        CheckText(name, nameof(name));
        if (name == SafeTensorsParser.MetadataKey)
        {
            ThrowHelper.ThrowArgument(nameof(name), $"'{SafeTensorsParser.MetadataKey}' is the metadata entry's name, not a tensor's.");
        }

        long elements = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                ThrowHelper.ThrowArgument(nameof(shape), $"Tensor '{name}' has the negative dimension {d}.");
            }

            elements = d == 0 || elements <= long.MaxValue / d ? elements * d : -1;
            if (elements < 0)
            {
                ThrowHelper.ThrowArgument(nameof(shape), $"Tensor '{name}': the shape overflows a 64-bit element count.");
            }
        }

        if (!SafeTensorsDTypes.TryGetByteCount(dtype, elements, out long bytes))
        {
            ThrowHelper.ThrowArgument(nameof(shape), $"Tensor '{name}': {elements} values of {SafeTensorsDTypes.GetName(dtype)} are not a whole number of bytes.");
        }

        if (bytes != data.Length)
        {
            ThrowHelper.ThrowArgument(nameof(data), $"Tensor '{name}' takes {bytes} bytes as {SafeTensorsDTypes.GetName(dtype)}; {data.Length} were given.");
        }

        if (!_names.Add(name))
        {
            ThrowHelper.ThrowArgument(nameof(name), $"A tensor named '{name}' was already added.");
        }

        _tensors.Add(new PendingTensor(name, dtype, shape.ToArray(), data));
    }

    /// <summary>Writes the header and every tensor's bytes; for a writer from <see cref="Create"/>, moves the file into place.</summary>
    /// <exception cref="InvalidDataException">The header would be larger than the format's 100 MB limit.</exception>
    public void Finish()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            return;
        }

        _tensors.Sort(static (a, b) => a.DType != b.DType ? b.DType.CompareTo(a.DType) : Utf8Comparer.Instance.Compare(a.Name, b.Name));
        byte[] header = BuildHeader();
        if (header.Length > SafeTensorsParser.MaxHeaderLength)
        {
            throw new InvalidDataException($"The header would be {header.Length} bytes, more than the format's {SafeTensorsParser.MaxHeaderLength}-byte limit.");
        }

        Span<byte> prefix = stackalloc byte[SafeTensorsParser.LengthPrefixBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        _stream.Write(prefix);
        _stream.Write(header);
        long written = prefix.Length + header.Length;
        foreach (PendingTensor t in _tensors)
        {
            _stream.Write(t.Data.Span);
            written += t.Data.Length;
        }

        _stream.Flush();
        if (_target is not null)
        {
            // A file made by Create: complete on disk, then moved into place in one step.
            _target.Commit(_stream);
            _target = null;
        }

        BytesWritten = written;
        _finished = true;
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

    /// <summary>The header JSON in the tensors' (sorted) order, padded with spaces to a multiple of 8 bytes.</summary>
    private byte[] BuildHeader()
    {
        var json = new StringBuilder();
        json.Append('{');
        bool first = true;
        if (_metadata.Count > 0)
        {
            AppendString(json, SafeTensorsParser.MetadataKey).Append(":{");
            foreach (KeyValuePair<string, string> kv in _metadata)
            {
                if (!first)
                {
                    json.Append(',');
                }

                AppendString(json, kv.Key).Append(':');
                AppendString(json, kv.Value);
                first = false;
            }

            json.Append('}');
            first = false;
        }

        long offset = 0;
        foreach (PendingTensor t in _tensors)
        {
            if (!first)
            {
                json.Append(',');
            }

            first = false;
            AppendString(json, t.Name).Append(":{\"dtype\":\"").Append(SafeTensorsDTypes.GetName(t.DType)).Append("\",\"shape\":[");
            json.AppendJoin(',', t.Shape).Append("],\"data_offsets\":[").Append(offset).Append(',');
            offset += t.Data.Length;
            json.Append(offset).Append("]}");
        }

        json.Append('}');
        int length = Encoding.UTF8.GetByteCount(json.ToString());
        int padded = (length + 7) & ~7;
        json.Append(' ', padded - length);
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    /// <summary>A JSON string as serde_json writes it: <c>"</c>, <c>\</c> and control characters escaped, everything else as is.</summary>
    private static StringBuilder AppendString(StringBuilder json, string text)
    {
        json.Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\b': json.Append("\\b"); break;
                case '\f': json.Append("\\f"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case < ' ': json.Append("\\u00").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture)); break;
                default: json.Append(c); break;
            }
        }

        return json.Append('"');
    }

    private static void CheckText(string text, string paramName)
    {
        if (text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF') && !IsWellFormed(text))
        {
            ThrowHelper.ThrowArgument(paramName, "The string holds a lone surrogate, which is not text and cannot be written as UTF-8.");
        }
    }

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private void ThrowIfFinished()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            throw new InvalidOperationException("The file is finished.");
        }
    }

    private sealed record PendingTensor(string Name, SafeTensorsDType DType, long[] Shape, ReadOnlyMemory<byte> Data);

    /// <summary>Orders strings by their UTF-8 bytes, as Rust compares <c>String</c>s (UTF-16 order differs above U+D7FF).</summary>
    private sealed class Utf8Comparer : IComparer<string>
    {
        public static readonly Utf8Comparer Instance = new();

        public int Compare(string? x, string? y)
        {
            // Rune order is code point order, which is UTF-8 byte order.
            SpanRuneEnumerator a = x.AsSpan().EnumerateRunes(), b = y.AsSpan().EnumerateRunes();
            while (true)
            {
                bool hasA = a.MoveNext(), hasB = b.MoveNext();
                if (!hasA || !hasB)
                {
                    return hasA.CompareTo(hasB);
                }

                int c = a.Current.Value.CompareTo(b.Current.Value);
                if (c != 0)
                {
                    return c;
                }
            }
        }
    }
}
