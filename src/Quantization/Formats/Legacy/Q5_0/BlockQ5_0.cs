using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q5_0: 32 values, w = d·(q − 16). Bit 4 of element j is bit j of Qh (little-endian).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_0
{
    public const int Size = 22;
    public ushort D;
    public uint Qh;
    public Bytes16 Qs;
}
