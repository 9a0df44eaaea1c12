using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quantization.IO;

namespace Quantization.Gguf;

/// <summary>
/// A GGUF v3 file opened for reading: the metadata, the tensor table, and zero-copy views of the tensor data.
/// <see cref="Open"/> memory-maps the file and validates everything before returning: magic, version, value and
/// tensor types, counts, lengths, names, alignment, and that every tensor's bytes lie inside the file without
/// overlapping another's. A file that breaks any rule is an <see cref="InvalidDataException"/> saying what and where.
/// </summary>
/// <remarks>Tensor spans point into the map and stay valid until <see cref="Dispose"/>. Reading is thread-safe.</remarks>
public sealed unsafe class GgufFile : IDisposable
{
    private readonly GgufLayout _layout;
    private readonly Dictionary<string, int> _tensorIndex;
    private readonly MappedBytes _bytes;

    private GgufFile(GgufLayout layout, MappedBytes bytes, string source)
    {
        _bytes = bytes;
        _layout = layout;
        Source = source;
        _tensorIndex = new Dictionary<string, int>(layout.Tensors.Count, StringComparer.Ordinal);
        for (int i = 0; i < layout.Tensors.Count; i++)
        {
            _tensorIndex.Add(layout.Tensors[i].Name, i);
        }
    }

    /// <summary>The path the file was opened from, or <c>&lt;memory&gt;</c>.</summary>
    public string Source { get; }

    /// <summary>The format version (3, or 2 for older files with the same layout).</summary>
    public uint Version => _layout.Version;

    /// <summary>The file's length in bytes.</summary>
    public long FileSize => _bytes.Length;

    /// <summary>The data alignment (<c>general.alignment</c>, default 32).</summary>
    public int Alignment => _layout.Alignment;

    /// <summary>The absolute offset of the data section, to which tensor offsets are relative.</summary>
    public long DataOffset => _layout.DataOffset;

    /// <summary>The metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _layout.Metadata;

    /// <summary>The tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => _layout.Tensors;

    /// <summary>Opens and validates the GGUF file at <paramref name="path"/>, memory-mapped.</summary>
    /// <param name="path">The file.</param>
    /// <param name="logger">Receives a summary of what was loaded (Information), each tensor (Debug) and rejections (Warning).</param>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF v3 file.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static GgufFile Open(string path, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        logger ??= NullLogger.Instance;
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("GGUF reading needs a little-endian processor.");
        }

        MappedBytes bytes;
        try
        {
            bytes = MappedBytes.Map(path, nameof(GgufFile), length =>
            {
                if (length == 0)
                {
                    throw GgufParser.Corrupt(0, "the file is empty");
                }
            });
        }
        catch (InvalidDataException ex)
        {
            GgufLog.Rejected(logger, path, ex.Message);
            throw;
        }

        return Load(bytes, path, logger);
    }

    /// <summary>Reads and validates a GGUF file held in memory; <paramref name="data"/> stays pinned until <see cref="Dispose"/>.</summary>
    /// <param name="data">The whole file.</param>
    /// <param name="logger">As for <see cref="Open"/>.</param>
    /// <exception cref="InvalidDataException">The bytes are not a valid GGUF v3 file.</exception>
    public static GgufFile Read(ReadOnlyMemory<byte> data, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("GGUF reading needs a little-endian processor.");
        }

        return Load(MappedBytes.Pin(data, nameof(GgufFile)), "<memory>", logger);
    }

    /// <summary>Parses <paramref name="bytes"/> (which the file then owns; disposed here if they are not a GGUF file).</summary>
    private static GgufFile Load(MappedBytes bytes, string source, ILogger logger)
    {
        try
        {
            GgufLayout layout = GgufParser.Parse(bytes.Pointer, bytes.Length);
            var file = new GgufFile(layout, bytes, source);
            file.LogLoaded(logger);
            return file;
        }
        catch (Exception ex)
        {
            bytes.Dispose();
            if (ex is InvalidDataException)
            {
                GgufLog.Rejected(logger, source, ex.Message);
            }

            throw;
        }
    }

    /// <summary>Whether the metadata has <paramref name="key"/>.</summary>
    public bool ContainsKey(string key) => _layout.MetadataByKey.ContainsKey(key);

    /// <summary>Gets the value of <paramref name="key"/>, or <see langword="false"/> when the key is absent.</summary>
    public bool TryGetValue(string key, [NotNullWhen(true)] out GgufValue? value) => _layout.MetadataByKey.TryGetValue(key, out value);

    /// <summary>Gets the value of <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    public GgufValue GetValue(string key) =>
        _layout.MetadataByKey.TryGetValue(key, out GgufValue? value) ? value : throw new KeyNotFoundException($"The GGUF file has no metadata key '{key}'.");

    /// <summary>Gets a STRING value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public string GetString(string key) => Typed(key, GgufValueType.String).AsString();

    /// <summary>Gets a UINT32 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public uint GetUInt32(string key) => Typed(key, GgufValueType.UInt32).AsUInt32();

    /// <summary>Gets an INT32 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public int GetInt32(string key) => Typed(key, GgufValueType.Int32).AsInt32();

    /// <summary>Gets a UINT64 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public ulong GetUInt64(string key) => Typed(key, GgufValueType.UInt64).AsUInt64();

    /// <summary>Gets an INT64 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public long GetInt64(string key) => Typed(key, GgufValueType.Int64).AsInt64();

    /// <summary>Gets a FLOAT32 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public float GetFloat32(string key) => Typed(key, GgufValueType.Float32).AsFloat32();

    /// <summary>Gets a FLOAT64 value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public double GetFloat64(string key) => Typed(key, GgufValueType.Float64).AsFloat64();

    /// <summary>Gets a BOOL value.</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value has another type.</exception>
    public bool GetBool(string key) => Typed(key, GgufValueType.Bool).AsBool();

    /// <summary>Gets the elements of an array (see <see cref="GgufValue.AsArray{T}"/> for the element types).</summary>
    /// <exception cref="KeyNotFoundException">The key is absent.</exception>
    /// <exception cref="InvalidDataException">The value is not an array of that element type.</exception>
    public IReadOnlyList<T> GetArray<T>(string key)
    {
        GgufValue value = GetValue(key);
        try
        {
            return value.AsArray<T>();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidDataException($"Metadata '{key}': {ex.Message}", ex);
        }
    }

    /// <summary>Finds the tensor named <paramref name="name"/>.</summary>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out GgufTensorInfo? tensor)
    {
        bool found = _tensorIndex.TryGetValue(name, out int index);
        tensor = found ? _layout.Tensors[index] : null;
        return found;
    }

    /// <summary>Gets the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public GgufTensorInfo GetTensor(string name) =>
        TryGetTensor(name, out GgufTensorInfo? tensor) ? tensor : throw new KeyNotFoundException($"The GGUF file has no tensor '{name}'.");

    /// <summary>A zero-copy view of the data of <paramref name="tensor"/> (one of <see cref="Tensors"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> belongs to another file.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public GgufTensorView GetTensorView(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        _bytes.ThrowIfDisposed();
        if (!_tensorIndex.TryGetValue(tensor.Name, out int index) || !ReferenceEquals(_layout.Tensors[index], tensor))
        {
            ThrowHelper.ThrowArgument(nameof(tensor), $"Tensor '{tensor.Name}' is not one of this file's tensors.");
        }

        return new GgufTensorView(this, tensor, DataOffset + tensor.Offset);
    }

    /// <summary>A zero-copy view of the data of the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public GgufTensorView GetTensorView(string name) => GetTensorView(GetTensor(name));

    /// <summary>The bytes of <paramref name="tensor"/> as one span (tensors under 2 GiB).</summary>
    /// <exception cref="InvalidOperationException">The tensor is 2 GiB or larger.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor) => GetTensorView(tensor).Span;

    /// <summary>
    /// Unmaps the file (once no pinned tensor memory is in use, e.g. a <see cref="QuantizedMatrix"/> call still running).
    /// Spans obtained from it must not be used afterwards; its tensor memory (<see cref="GgufTensorView.Memory"/>) and
    /// matrices (<see cref="GgufTensorView.AsMatrix()"/>) throw <see cref="ObjectDisposedException"/> from then on.
    /// </summary>
    public void Dispose() => _bytes.Dispose();

    internal ReadOnlySpan<byte> GetBytes(long fileOffset, int length) => _bytes.GetBytes(fileOffset, length);

    /// <summary>
    /// Memory over <paramref name="length"/> bytes at <paramref name="fileOffset"/>: a slice of the caller's memory for a
    /// file read from memory, memory over the mapping otherwise. No byte is copied.
    /// </summary>
    internal ReadOnlyMemory<byte> GetMemory(long fileOffset, int length) => _bytes.GetMemory(fileOffset, length);

    private GgufValue Typed(string key, GgufValueType type)
    {
        GgufValue value = GetValue(key);
        if (value.Type != type)
        {
            throw new InvalidDataException($"Metadata '{key}' is {(value.IsArray ? "an array of " + value.ElementType : value.Type.ToString())}, not {type}.");
        }

        return value;
    }

    private void LogLoaded(ILogger logger)
    {
        long dataBytes = 0;
        bool quantized = false;
        var perType = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (GgufTensorInfo t in Tensors)
        {
            dataBytes += t.ByteCount;
            quantized |= t.Format.BlockSize > 1;
            string name = t.Format.Name;
            perType[name] = perType.GetValueOrDefault(name) + 1;
        }

        if (!logger.IsEnabled(LogLevel.Information) && !logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        GgufLog.Opened(logger, Source, Version, Tensors.Count, Metadata.Count, dataBytes, Alignment);
        string Text(string key) => TryGetValue(key, out GgufValue? v) ? (v.Type == GgufValueType.String ? v.AsString() : v.ToString()) : "(none)";
        GgufLog.Model(logger, Text(GgufConstants.ArchitectureKey), Text(GgufConstants.NameKey), Text(GgufConstants.FileTypeKey), Text(GgufConstants.QuantizationVersionKey));
        if (perType.Count > 0)
        {
            GgufLog.TensorTypes(logger, string.Join(", ", perType.Select(p => $"{p.Key} {p.Value}")));
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            foreach (GgufTensorInfo t in Tensors)
            {
                GgufLog.Tensor(logger, t.Name, t.Format.Name, t.ShapeText, t.ByteCount, t.Offset);
            }
        }

        if (quantized && !ContainsKey(GgufConstants.QuantizationVersionKey))
        {
            GgufLog.MissingQuantizationVersion(logger, Source);
        }
    }
}
