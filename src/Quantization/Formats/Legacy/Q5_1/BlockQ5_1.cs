using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q5_1: 32 values, w = d·q + m. Bits placed as in Q5_0.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_1
{
    public const int Size = 24;
    public ushort D;
    public ushort M;
    public uint Qh;
    public Bytes16 Qs;
}
