using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// NVFP4: 64 values in four sub-blocks of 16, w = kvalues_mxfp4[q]·ue4m3(D[s])/2. The four UE4M3 scale bytes come
/// first, then 32 bytes of codes, 8 per sub-block: in sub-block s, element j is the low nibble of Qs[8s + j] and
/// element j+8 the high nibble.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockNVFP4
{
    public const int Size = 36;
    public const int Values = 64;
    public const int SubBlockValues = 16;
    public const int SubBlocks = Values / SubBlockValues;
    public Bytes4 D;
    public Bytes32 Qs;
}
