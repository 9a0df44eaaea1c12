using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// NF4 / FP4 (bitsandbytes 4-bit): 64 values, w = table[q]·absmax. The float32 absmax comes first, then 32 bytes of
/// codes; element 2i is the HIGH nibble of Qs[i] and element 2i+1 the low nibble, as bitsandbytes packs its tensors
/// (unlike Q4_0 / IQ4_NL, where element j is a low nibble and j+16 the high one). FP4 blocks share this layout.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockNF4
{
    public const int Size = 36;
    public const int Values = 64;
    public float Absmax;
    public Bytes32 Qs;
}
