using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>Q2_0: 64 values, w = d·(q − 1) with 2-bit q. Element j is bits 2·(j % 4) of Qs[j / 4].</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ2_0
{
    public const int Size = 18;
    public const int Values = 64;
    public ushort D;
    public Bytes16 Qs;
}
