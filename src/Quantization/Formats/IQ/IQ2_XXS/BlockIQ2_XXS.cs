using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ2_XXS: 256 values in 8 sub-blocks of 32. Sub-block ib is two little-endian uint32 words at Qs[8·ib]: the first
/// holds four grid indices (one byte per group of 8 values), the second four 7-bit sign codes (group l at bit 7l)
/// and the 4-bit scale s in its top bits; w = d·(0.5 + s)·0.25·grid·sign.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ2_XXS
{
    public const int Size = 66;
    public ushort D;
    public Bytes64 Qs;

    /// <summary>The second word of sub-block <paramref name="ib"/>: sign codes and scale.</summary>
    public readonly uint SignsAndScale(int ib) => MemoryMarshal.Read<uint>(((ReadOnlySpan<byte>)Qs).Slice(8 * ib + 4));
}
