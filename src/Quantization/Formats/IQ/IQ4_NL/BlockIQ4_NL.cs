using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// IQ4_NL: 32 values, w = d·kvalues_iq4nl[q]. Nibbles ordered as in Q4_0: element j is the low nibble of Qs[j],
/// element j+16 the high nibble.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockIQ4_NL
{
    public const int Size = 18;
    public ushort D;
    public Bytes16 Qs;
}
