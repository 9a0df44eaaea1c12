using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// MXFP4 (OCP microscaling): 32 values, w = kvalues_mxfp4[q]·2^(e − 128). The E8M0 exponent byte comes first, then the
/// codes ordered as in Q4_0: element j is the low nibble of Qs[j], element j+16 the high nibble.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockMXFP4
{
    public const int Size = 17;
    public const int Values = 32;
    public byte E;
    public Bytes16 Qs;
}
