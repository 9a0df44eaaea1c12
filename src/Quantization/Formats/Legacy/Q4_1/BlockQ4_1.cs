using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q4_1: 32 values, w = d·q + m. Nibbles ordered as in Q4_0.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_1
{
    public const int Size = 20;
    public ushort D;
    public ushort M;
    public Bytes16 Qs;
}
