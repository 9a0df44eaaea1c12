using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>Q1_0: 128 values, w = ±d (bit set: +d). Element j is bit j % 8 of Qs[j / 8].</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ1_0
{
    public const int Size = 18;
    public const int Values = 128;
    public ushort D;
    public Bytes16 Qs;
}
