using System.Runtime.InteropServices;

namespace Quantization.Formats;

// Block layouts of ggml-common.h, packed with no padding (sizes asserted in tests).
// Scales are FP16 bit patterns (ggml_half).

/// <summary>Q4_0: 32 values, w = d·(q − 8). Element j is the low nibble of Qs[j], element j+16 the high nibble.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_0
{
    public const int Size = 18;
    public ushort D;
    public Bytes16 Qs;
}

/// <summary>Q4_1: 32 values, w = d·q + m. Nibbles ordered as in Q4_0.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_1
{
    public const int Size = 20;
    public ushort D;
    public ushort M;
    public Bytes16 Qs;
}

/// <summary>Q5_0: 32 values, w = d·(q − 16). Bit 4 of element j is bit j of Qh (little-endian).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_0
{
    public const int Size = 22;
    public ushort D;
    public uint Qh;
    public Bytes16 Qs;
}

/// <summary>Q5_1: 32 values, w = d·q + m. Bits placed as in Q5_0.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_1
{
    public const int Size = 24;
    public ushort D;
    public ushort M;
    public uint Qh;
    public Bytes16 Qs;
}

/// <summary>Q8_0: 32 values, w = d·q with signed 8-bit q.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_0
{
    public const int Size = 34;
    public ushort D;
    public SBytes32 Qs;
}

/// <summary>Q8_1: Q8_0 plus S = FP16(d·Σq), used by the Q4_1 / Q5_1 dot products.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_1
{
    public const int Size = 36;
    public ushort D;
    public ushort S;
    public SBytes32 Qs;
}

/// <summary>Q8_K: 256 values, float32 d, signed 8-bit q and the sums of each 16 q (activations for K-quant dots).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_K
{
    public const int Size = 292;
    public float D;
    public SBytes256 Qs;
    public Int16s16 Bsums;
}
