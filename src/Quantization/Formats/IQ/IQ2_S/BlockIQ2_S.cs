using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ2_S: 256 values in 32 groups of 8. Group g's grid index is Qs[g] | 2 bits of Qh[g/4] (at bit 2·(g%4)) &lt;&lt; 8,
/// its eight sign bits Qs[32 + g] (no parity rule); half sub-block h has the 4-bit scale s in nibble h%2 of
/// Scales[h/2]; w = d·(0.5 + s)·0.25·grid·sign.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ2_S
{
    public const int Size = 82;
    public ushort D;
    public Bytes64 Qs;
    public Bytes8 Qh;
    public Bytes8 Scales;

    /// <summary>The 10-bit grid index of group <paramref name="g"/>.</summary>
    public readonly int GridIndex(int g) => Qs[g] | ((Qh[g / 4] << (8 - 2 * (g % 4))) & 0x300);
}
