using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ1_M: 256 values in 16 blocks of 16, groups of 8 on IQ1_S's grid. Group g's index is Qs[g] | 3 bits of Qh[g/2]
/// (low or high nibble) &lt;&lt; 8, and bit 3 of that nibble the sign of its ±0.125 shift. The four uint16 of Scales hold
/// 3-bit block scales (block ib at bit 3·(ib%4) of word ib/4) and, in their top nibbles, the FP16 super-scale.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ1_M
{
    public const int Size = 56;
    public Bytes32 Qs;
    public Bytes16 Qh;
    public Bytes8 Scales;

    /// <summary>Scale word <paramref name="w"/> (0..3).</summary>
    public readonly int ScaleWord(int w) => Scales[2 * w] | (Scales[2 * w + 1] << 8);

    /// <summary>The FP16 super-scale gathered from the top nibbles of the four scale words.</summary>
    public readonly ushort D => (ushort)((ScaleWord(0) >> 12) | ((ScaleWord(1) >> 8) & 0x00F0) | ((ScaleWord(2) >> 4) & 0x0F00) | (ScaleWord(3) & 0xF000));

    /// <summary>The 3-bit scale of 16-value block <paramref name="ib"/> (0..15).</summary>
    public readonly int BlockScale(int ib) => (ScaleWord(ib / 4) >> (3 * (ib % 4))) & 7;

    /// <summary>The 11-bit grid index of group <paramref name="g"/> (0..31).</summary>
    public readonly int GridIndex(int g) => Qs[g] | ((Qh[g / 2] << (8 - 4 * (g % 2))) & 0x700);

    /// <summary>Whether group <paramref name="g"/>'s shift is −0.125.</summary>
    public readonly bool NegativeShift(int g) => (Qh[g / 2] & (g % 2 == 0 ? 0x08 : 0x80)) != 0;
}
