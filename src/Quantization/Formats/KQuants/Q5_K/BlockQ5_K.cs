using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Q5_K: Q4_K's layout plus a fifth bit per value: bit 4 of element 64c + l is bit 2c of Qh[l], bit 4 of
/// element 64c + 32 + l is bit 2c + 1 of Qh[l]. w = (d·sc_j)·q − (dmin·m_j), q in 0..31.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_K
{
    public const int Size = 176;
    public ushort D;
    public ushort DMin;
    public Bytes12 Scales;
    public Bytes32 Qh;
    public Bytes128 Qs;
}
