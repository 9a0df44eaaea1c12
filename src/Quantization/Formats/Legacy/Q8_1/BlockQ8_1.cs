using System.Runtime.InteropServices;

namespace Quantization.Formats;

// A block layout of ggml-common.h, packed with no padding (size asserted in tests); scales are FP16 bit patterns (ggml_half).
/// <summary>Q8_1: Q8_0 plus S = FP16(d·Σq), used by the Q4_1 / Q5_1 dot products.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_1
{
    public const int Size = 36;
    public ushort D;
    public ushort S;
    public SBytes32 Qs;
}
