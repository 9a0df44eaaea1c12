using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Quantization.IO;

namespace Quantization.SafeTensors;

/// <summary>
/// A safetensors file opened for reading: the <c>__metadata__</c> strings, the tensor table and zero-copy views of the
/// tensor data. <see cref="Open"/> memory-maps the file and validates the whole header before returning (see the
/// format documentation for the rules); a file that breaks one is an <see cref="InvalidDataException"/> saying what,
/// which tensor and where. Only the header is read: opening costs O(header), whatever the size of the tensors.
/// </summary>
/// <remarks>Tensor spans point into the map and stay valid until <see cref="Dispose"/>. Reading is thread-safe.</remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly SafeTensorsLayout _layout;
    private readonly Dictionary<string, int> _tensorIndex;
    private readonly MappedBytes _bytes;

    private SafeTensorsFile(SafeTensorsLayout layout, MappedBytes bytes, string source)
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

    /// <summary>The file's length in bytes.</summary>
    public long FileSize => _bytes.Length;

    /// <summary>The length of the JSON header (the value of the 8-byte prefix, padding included).</summary>
    public long HeaderLength => _layout.HeaderLength;

    /// <summary>The absolute offset of the data section, to which tensor offsets are relative: 8 + <see cref="HeaderLength"/>.</summary>
    public long DataOffset => SafeTensorsParser.LengthPrefixBytes + _layout.HeaderLength;

    /// <summary>The <c>__metadata__</c> strings (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _layout.Metadata;

    /// <summary>The tensors in data order (sorted by offset, which is not necessarily the header's order).</summary>
    public IReadOnlyList<SafeTensorsTensorInfo> Tensors => _layout.Tensors;

    /// <summary>Opens and validates the safetensors file at <paramref name="path"/>, memory-mapped.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfBigEndian();
        MappedBytes bytes = MappedBytes.Map(path, nameof(SafeTensorsFile), length =>
        {
            if (length < SafeTensorsParser.LengthPrefixBytes)
            {
                throw SafeTensorsParser.Corrupt(0, $"the file is {length} bytes, shorter than the 8-byte header length");
            }
        });
        return Load(bytes, path);
    }

    /// <summary>Reads and validates a safetensors file held in memory; <paramref name="data"/> stays pinned until <see cref="Dispose"/>.</summary>
    /// <param name="data">The whole file.</param>
    /// <exception cref="InvalidDataException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorsFile Read(ReadOnlyMemory<byte> data)
    {
        ThrowIfBigEndian();
        return Load(MappedBytes.Pin(data, nameof(SafeTensorsFile)), "<memory>");
    }

    /// <summary>Parses <paramref name="bytes"/> (which the file then owns; disposed here if they are not a safetensors file).</summary>
    private static SafeTensorsFile Load(MappedBytes bytes, string source)
    {
        try
        {
            return new SafeTensorsFile(SafeTensorsParser.Parse(bytes.Pointer, bytes.Length), bytes, source);
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
    }

    /// <summary>Finds the tensor named <paramref name="name"/>.</summary>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out SafeTensorsTensorInfo? tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        bool found = _tensorIndex.TryGetValue(name, out int index);
        tensor = found ? _layout.Tensors[index] : null;
        return found;
    }

    /// <summary>Gets the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public SafeTensorsTensorInfo GetTensor(string name) =>
        TryGetTensor(name, out SafeTensorsTensorInfo? tensor) ? tensor : throw new KeyNotFoundException($"The safetensors file has no tensor '{name}'.");

    /// <summary>A zero-copy view of the data of <paramref name="tensor"/> (one of <see cref="Tensors"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> belongs to another file.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public SafeTensorsTensorView GetTensorView(SafeTensorsTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        _bytes.ThrowIfDisposed();
        if (!_tensorIndex.TryGetValue(tensor.Name, out int index) || !ReferenceEquals(_layout.Tensors[index], tensor))
        {
            ThrowHelper.ThrowArgument(nameof(tensor), $"Tensor '{tensor.Name}' is not one of this file's tensors.");
        }

        return new SafeTensorsTensorView(this, tensor, DataOffset + tensor.Begin);
    }

    /// <summary>A zero-copy view of the data of the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public SafeTensorsTensorView GetTensorView(string name) => GetTensorView(GetTensor(name));

    /// <summary>
    /// Unmaps the file (once no pinned tensor memory is in use, e.g. a <see cref="QuantizedMatrix"/> call still running).
    /// Spans obtained from it must not be used afterwards; its tensor memory and matrices throw
    /// <see cref="ObjectDisposedException"/> from then on.
    /// </summary>
    public void Dispose() => _bytes.Dispose();

    internal ReadOnlySpan<byte> GetBytes(long fileOffset, int length) => _bytes.GetBytes(fileOffset, length);

    /// <summary>Memory over <paramref name="length"/> bytes at <paramref name="fileOffset"/>, without a copy.</summary>
    internal ReadOnlyMemory<byte> GetMemory(long fileOffset, int length) => _bytes.GetMemory(fileOffset, length);

    private static void ThrowIfBigEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors reading needs a little-endian processor.");
        }
    }
}
