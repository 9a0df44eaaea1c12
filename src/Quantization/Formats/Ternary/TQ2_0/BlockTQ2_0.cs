using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// TQ2_0: 256 ternary values, w = d·(q − 1) with 2-bit q ∈ {0, 1, 2}. Element 128·c + 32·n + m sits in bits 2n..2n+1 of
/// Qs[32·c + m] (low bits first). The FP16 scale d comes last, unlike the other ggml blocks.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockTQ2_0
{
    public const int Size = 66;
    public Bytes64 Qs;
    public ushort D;
}
