using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ2_XS: 256 values in 32 groups of 8. Group g is the little-endian uint16 at Qs[2g]: grid index in the low 9
/// bits, 7-bit sign code above; half sub-block h (16 values) has the 4-bit scale s in nibble h%2 of Scales[h/2];
/// w = d·(0.5 + s)·0.25·grid·sign.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ2_XS
{
    public const int Size = 74;
    public ushort D;
    public Bytes64 Qs;
    public Bytes8 Scales;

    /// <summary>The code of group <paramref name="g"/>: grid index | sign code &lt;&lt; 9.</summary>
    public readonly int Code(int g) => Qs[2 * g] | (Qs[2 * g + 1] << 8);
}
