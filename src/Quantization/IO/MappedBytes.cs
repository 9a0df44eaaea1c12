using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Quantization.IO;

/// <summary>
/// The bytes of a model file the readers (<see cref="Gguf.GgufFile"/>, <see cref="SafeTensors.SafeTensorsFile"/>)
/// serve tensors from: a read-only memory map of a file, or caller memory pinned for the reader's lifetime. Spans and
/// memory over it are checked against disposal; memory over a map keeps the mapping alive while pinned
/// (<see cref="MappedMemory"/>).
/// </summary>
internal sealed unsafe class MappedBytes : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly ReadOnlyMemory<byte> _source;
    private readonly string _owner;
    private MemoryHandle _pin;
    private byte* _data;

    private MappedBytes(MemoryMappedFile? map, MemoryMappedViewAccessor? view, ReadOnlyMemory<byte> source, MemoryHandle pin, byte* data, long length, string owner)
    {
        _map = map;
        _view = view;
        _source = source;
        _pin = pin;
        _data = data;
        Length = length;
        _owner = owner;
    }

    /// <summary>The number of bytes.</summary>
    public long Length { get; }

    /// <summary>The first byte; valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer
    {
        get
        {
            ThrowIfDisposed();
            return _data;
        }
    }

    /// <summary>
    /// Maps the file at <paramref name="path"/> read-only. <paramref name="checkLength"/> sees its length first and
    /// throws for one the format cannot start with (a map of an empty file cannot be made).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="owner">The reader's type name, for <see cref="ObjectDisposedException"/>s.</param>
    /// <param name="checkLength">Throws for a length the format rejects outright.</param>
    public static MappedBytes Map(string path, string owner, Action<long> checkLength)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            long length = stream.Length;
            checkLength(length);
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new MappedBytes(map, view, default, default, pointer + view.PointerOffset, length, owner);
        }
        catch
        {
            if (pointer != null)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Pins <paramref name="data"/> until <see cref="Dispose"/>.</summary>
    public static MappedBytes Pin(ReadOnlyMemory<byte> data, string owner)
    {
        MemoryHandle pin = data.Pin();
        return new MappedBytes(null, null, data, pin, (byte*)pin.Pointer, data.Length, owner);
    }

    /// <summary><paramref name="length"/> bytes at <paramref name="offset"/> (checked by the caller's parser).</summary>
    public ReadOnlySpan<byte> GetBytes(long offset, int length)
    {
        ThrowIfDisposed();
        return new ReadOnlySpan<byte>(_data + offset, length);
    }

    /// <summary>
    /// Memory over <paramref name="length"/> bytes at <paramref name="offset"/>: a slice of the caller's memory, or a
    /// <see cref="MappedMemory"/> over the map. No byte is copied.
    /// </summary>
    public ReadOnlyMemory<byte> GetMemory(long offset, int length)
    {
        ThrowIfDisposed();
        return _view is null
            ? _source.Slice(checked((int)offset), length)
            : new MappedMemory(_view.SafeMemoryMappedViewHandle, _data + offset, length, _owner).Memory;
    }

    public void ThrowIfDisposed()
    {
        if (_data == null)
        {
            throw new ObjectDisposedException(_owner);
        }
    }

    /// <summary>Unmaps the file or unpins the memory (a map stays alive while a <see cref="MappedMemory"/> pin holds it).</summary>
    public void Dispose()
    {
        if (_data == null)
        {
            return;
        }

        _data = null;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map!.Dispose();
        }

        _pin.Dispose();
    }
}
