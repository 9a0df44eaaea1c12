using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q8_0: 32 values, w = d·q with signed 8-bit q.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_0
{
    public const int Size = 34;
    public ushort D;
    public SBytes32 Qs;
}
