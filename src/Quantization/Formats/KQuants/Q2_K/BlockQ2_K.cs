using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Q2_K: 256 values in 16 sub-blocks of 16, w = d·(sc &amp; 0xF)·q − dmin·(sc &gt;&gt; 4) with q in 0..3.
/// Scales[k] covers elements 16k..16k+15 (low nibble: scale, high nibble: min). Element 128h + 32s + l is bits
/// 2s..2s+1 of Qs[32h + l]. d and dmin sit at the end of the block, unlike Q4_K / Q5_K.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ2_K
{
    public const int Size = 84;
    public Bytes16 Scales;
    public Bytes64 Qs;
    public ushort D;
    public ushort Dmin;

    /// <summary>Packs 256 two-bit codes: four codes 32 elements apart share a byte (shared with Q3_K's low bits).</summary>
    public static void PackLow2(ReadOnlySpan<byte> L, Span<byte> qs)
    {
        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; ++l)
            {
                qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
            }
        }
    }
}
