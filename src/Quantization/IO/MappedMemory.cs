using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Quantization.IO;

/// <summary>
/// Memory over a range of a memory-mapped <see cref="Gguf.GgufFile"/> or <see cref="SafeTensors.SafeTensorsFile"/>: what lets a tensor become a
/// <see cref="QuantizedMatrix"/> without a copy. A pin holds a reference on the mapping, so disposing the file while a
/// pinned user (a running <see cref="QuantizedMatrix"/> call) reads it defers the unmapping until the pin is released;
/// a span or a pin asked for after the file is disposed throws <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed unsafe class MappedMemory : MemoryManager<byte>
{
    private readonly SafeMemoryMappedViewHandle _mapping;
    private readonly byte* _pointer;
    private readonly int _length;
    private readonly string _owner;

    internal MappedMemory(SafeMemoryMappedViewHandle mapping, byte* pointer, int length, string owner)
    {
        _owner = owner;
        _mapping = mapping;
        _pointer = pointer;
        _length = length;
    }

    public override Span<byte> GetSpan()
    {
        if (_mapping.IsClosed)
        {
            ThrowDisposed();
        }

        return new Span<byte>(_pointer, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        bool added = false;
        try
        {
            // Throws ObjectDisposedException once the file has been disposed: no pointer into an unmapped view escapes.
            _mapping.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            ThrowDisposed();
        }

        return new MemoryHandle(_pointer + elementIndex, default, this);
    }

    public override void Unpin() => _mapping.DangerousRelease();

    protected override void Dispose(bool disposing)
    {
        // The file owns the mapping; this object only borrows it.
    }

    private void ThrowDisposed() =>
        throw new ObjectDisposedException(_owner, $"The {_owner} this tensor memory belongs to has been disposed.");
}
