using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Kernels;

/// <summary>
/// Hands out consecutive pieces of a stack buffer, the first one starting on a 64-byte boundary and every piece a
/// multiple of 16 floats long, so that all of them are aligned for full-width vector loads and stores. The buffer
/// must be stack memory (it does not move) and hold 16 floats more than the pieces taken.
/// </summary>
internal ref struct ScratchCarver
{
    private Span<float> _rest;

    public unsafe ScratchCarver(Span<float> stackBuffer)
    {
        nuint address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(stackBuffer));
        int skip = (int)((64 - (address & 63)) & 63) / sizeof(float);
        _rest = stackBuffer[skip..];
    }

    /// <summary>The next <paramref name="length"/> floats (a multiple of 16).</summary>
    public Span<float> Take(int length)
    {
        if ((length & 15) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(length), "Scratch pieces are multiples of 16 floats.");
        }

        Span<float> piece = _rest[..length];
        _rest = _rest[length..];
        return piece;
    }
}
