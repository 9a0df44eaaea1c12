using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ1_S: 256 values in 8 sub-blocks of 32, groups of 8 on a 2048-point grid of values −1, 0, 1. Group g's grid index
/// is Qs[g] | 3 bits of Qh[g/4] (at bit 3·(g%4)) &lt;&lt; 8; bits 12–14 of Qh[ib] are the scale s and bit 15 the sign of
/// the shift: w = d·(2s + 1)·(grid ± 0.125).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ1_S
{
    public const int Size = 50;
    public ushort D;
    public Bytes32 Qs;
    public Bytes16 QhBytes;

    /// <summary>The uint16 of sub-block <paramref name="ib"/>: grid index high bits, scale and shift sign.</summary>
    public readonly int Qh(int ib) => QhBytes[2 * ib] | (QhBytes[2 * ib + 1] << 8);

    /// <summary>The 11-bit grid index of group <paramref name="g"/>.</summary>
    public readonly int GridIndex(int g) => Qs[g] | (((Qh(g / 4) >> (3 * (g % 4))) & 7) << 8);
}
