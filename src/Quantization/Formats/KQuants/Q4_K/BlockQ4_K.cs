using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Q4_K: 256 values in 8 sub-blocks of 32, w = (d·sc_j)·q − (dmin·m_j) with 6-bit sc_j / m_j packed into
/// <see cref="Scales"/> (see <see cref="KScales"/>). Byte Qs[32c + l] holds element 64c + l in its low nibble and
/// element 64c + 32 + l in its high nibble.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_K
{
    public const int Size = 144;
    public ushort D;
    public ushort DMin;
    public Bytes12 Scales;
    public Bytes128 Qs;
}
