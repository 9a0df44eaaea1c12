using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ3_S: 256 values in 8 sub-blocks of 32. Values 4g..4g+3 of sub-block ib use grid point Qs[8·ib + g] | bit g of
/// Qh[ib] ≪ 8 (IQ3_S grid, 512 points); bit e of Signs[4·ib + e/8] is the sign of value e; sub-block ib's 4-bit scale s
/// is nibble ib%2 of Scales[ib/2]: w = d·(1 + 2s)·grid·sign.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ3_S
{
    public const int Size = 110;
    public ushort D;
    public Bytes64 Qs;
    public Bytes8 Qh;
    public Bytes32 Signs;
    public Bytes4 Scales;

    /// <summary>The 4-bit scale of sub-block <paramref name="ib"/>.</summary>
    public readonly int Scale(int ib) => (Scales[ib / 2] >> (4 * (ib % 2))) & 0xF;

    /// <summary>The grid index of values 4g..4g+3 of sub-block <paramref name="ib"/>.</summary>
    public readonly int GridIndex(int ib, int g) => Qs[8 * ib + g] | (((Qh[ib] >> g) & 1) << 8);
}
