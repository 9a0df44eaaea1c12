using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>Q8_K: 256 values, float32 d, signed 8-bit q and the sums of each 16 q (activations for K-quant dots).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_K
{
    public const int Size = 292;
    public float D;
    public SBytes256 Qs;
    public Int16s16 Bsums;
}
