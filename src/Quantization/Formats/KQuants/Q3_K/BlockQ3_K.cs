using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Q3_K: 256 values in 16 sub-blocks of 16, w = d·(u − 32)·q with q in −4..3. The low two bits of q are placed as in
/// Q2_K; the high bit of element e is bit e/32 of Hmask[e % 32] (clear means subtract 4). The 16 six-bit scales u are
/// packed into 12 bytes (<see cref="GetScale"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ3_K
{
    public const int Size = 110;
    public Bytes32 Hmask;
    public Bytes64 Qs;
    public Bytes12 Scales;
    public ushort D;

    /// <summary>The signed scale u − 32 (−32..31) of sub-block <paramref name="j"/>.</summary>
    public static int GetScale(ReadOnlySpan<byte> scales, int j)
    {
        int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
        int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }

    /// <summary>Stores the six-bit value <paramref name="u"/> (0..63) of sub-block <paramref name="j"/> into zeroed scales.</summary>
    public static void SetScale(Span<byte> scales, int j, int u)
    {
        if (j < 8)
        {
            scales[j] = (byte)(u & 0xF);
        }
        else
        {
            scales[j - 8] |= (byte)((u & 0xF) << 4);
        }

        scales[j % 4 + 8] |= (byte)((u >> 4) << (2 * (j / 4)));
    }
}
