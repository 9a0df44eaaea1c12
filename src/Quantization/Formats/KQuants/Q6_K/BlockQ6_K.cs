using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Q6_K: 256 values in 16 sub-blocks of 16, w = d·Scales[e/16]·(q − 32) with q in 0..63 and signed 8-bit scales.
/// In half h (128 values, Ql + 64h, Qh + 32h), for l in 0..31: element 128h + l is lo(Ql[l]), +32 is lo(Ql[l+32]),
/// +64 is hi(Ql[l]), +96 is hi(Ql[l+32]); their bits 4..5 are bits 0-1, 2-3, 4-5, 6-7 of Qh[l].
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ6_K
{
    public const int Size = 210;
    public Bytes128 Ql;
    public Bytes64 Qh;
    public SBytes16 Scales;
    public ushort D;
}
