using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ4_XS: 256 values in 8 sub-blocks of 32, w = d·(ls − 32)·kvalues_iq4nl[q]. Sub-block ib's 6-bit scale ls has its
/// low 4 bits in nibble ib%2 of ScalesL[ib/2] and its high 2 bits at bit 2·ib of ScalesH. Inside sub-block ib,
/// element j is the low nibble of Qs[16·ib + j] and element j+16 the high nibble.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ4_XS
{
    public const int Size = 136;
    public const int SubBlocks = 8;
    public ushort D;
    public ushort ScalesH;
    public Bytes4 ScalesL;
    public Bytes128 Qs;

    /// <summary>The 6-bit scale of sub-block <paramref name="ib"/> (0..63; the multiplier is ls − 32).</summary>
    public readonly int Scale(int ib) => ((ScalesL[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((ScalesH >> (2 * ib)) & 3) << 4);
}
