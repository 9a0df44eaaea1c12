using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ3_XXS: 256 values in 8 sub-blocks of 32. Qs[8·ib + g] is the grid index (IQ3_XXS grid) of values 4g..4g+3 of
/// sub-block ib; the uint32 <see cref="ScalesAndSigns"/> word ib holds four 7-bit sign indices (bits 7l..7l+6, one per
/// 8 values, see <see cref="IqSigns"/>) and the 4-bit scale s in bits 28..31: w = d·(0.5 + s)·0.5·grid·sign.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ3_XXS
{
    public const int Size = 98;
    public ushort D;
    public Bytes64 Qs;
    public Bytes32 ScalesAndSigns;

    /// <summary>Sub-block <paramref name="ib"/>'s word of sign indices and scale.</summary>
    public readonly uint Aux(int ib) => MemoryMarshal.Read<uint>(((ReadOnlySpan<byte>)ScalesAndSigns)[(4 * ib)..]);
}
