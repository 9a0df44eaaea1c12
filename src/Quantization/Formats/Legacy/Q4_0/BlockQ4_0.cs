using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q4_0: 32 values, w = d·(q − 8). Element j is the low nibble of Qs[j], element j+16 the high nibble.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_0
{
    public const int Size = 18;
    public ushort D;
    public Bytes16 Qs;
}
