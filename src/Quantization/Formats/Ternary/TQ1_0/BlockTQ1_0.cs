using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// TQ1_0: 256 ternary values, w = d·(t − 1) with trits t ∈ {0, 1, 2} stored in base 3. Qs[m] (m &lt; 32) holds elements
/// m + 32n, Qs[32 + m] (m &lt; 16) elements 160 + m + 16n (n = 0..4, the first element the most significant trit),
/// Qh[j] elements 240 + j + 4n (n = 0..3, shifted up one trit). Each byte stores its base-3 value v as
/// ceil(v·256/243), so trit n is <c>((byte)(b·3ⁿ)·3) &gt;&gt; 8</c>. The FP16 scale d comes last.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockTQ1_0
{
    public const int Size = 54;
    public Bytes48 Qs;
    public Bytes4 Qh;
    public ushort D;
}
