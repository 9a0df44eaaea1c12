using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The 4-bit E2M1 codes of MXFP4 and NVFP4 (docs/formats.md#mxfp4): bit 3 the sign, then 2 exponent bits and 1 mantissa
/// bit, read through ggml's <c>kvalues_mxfp4</c>, which holds each value doubled so that it is an integer (the block
/// scales are read halved to match).
/// </summary>
internal static class E2M1
{
    /// <summary><c>kvalues_mxfp4</c>: twice the E2M1 value of each code (codes 0 and 8 are +0 and −0, both 0 here).</summary>
    public static ReadOnlySpan<sbyte> Values => [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// <summary>The table as a byte-shuffle operand.</summary>
    private static Vector128<sbyte> Table => Vector128.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);

    /// <summary>kvalues_mxfp4[code] for 16 codes (each 0..15): pshufb on x86, TBL on arm64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Lookup(Vector128<byte> codes)
    {
        if (Ssse3.IsSupported)
        {
            return Ssse3.Shuffle(Table, codes.AsSByte());
        }

        if (AdvSimd.Arm64.IsSupported)
        {
            return AdvSimd.Arm64.VectorTableLookup(Table.AsByte(), codes).AsSByte();
        }

        return Vector128.Shuffle(Table, codes.AsSByte());
    }

    /// <summary>
    /// ggml's <c>best_index_mxfp4(x, d)</c>: the first code with the smallest float32 |kvalues[code]·d − x|. On equal
    /// errors the lower code wins, so a tie between two magnitudes goes to the smaller one, and a negative x that is
    /// nearest to zero gets code 0 (+0), never 8.
    /// </summary>
    public static byte BestIndex(float x, float d)
    {
        ReadOnlySpan<sbyte> values = Values;
        int best = 0;
        float bestErr = MathF.Abs(values[0] * d - x);
        for (int i = 1; i < 16; i++)
        {
            float err = MathF.Abs(values[i] * d - x);
            if (err < bestErr)
            {
                best = i;
                bestErr = err;
            }
        }

        return (byte)best;
    }

    /// <summary>
    /// <see cref="BestIndex"/> for every lane, as a float code 0..15. The search runs over the eight non-negative codes
    /// for |x|: for x ≥ 0 no negative code can win (its error rounds to at least the positive twin's, which comes first),
    /// and for x &lt; 0 every positive code's error fl(k·d + |x|) is at least code 0's |x|, while each negative code's
    /// error equals, bit for bit, its positive twin's for |x| (rounding is symmetric). So the winner for x &lt; 0 is the
    /// twin of |x|'s winner, except that a 0 stays code 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec BestIndex<TVec>(TVec x, TVec d) where TVec : struct, ISimdFloat<TVec>
    {
        ReadOnlySpan<sbyte> values = Values;
        TVec a = TVec.Abs(x);
        TVec bestErr = a; // |0·d − a|
        TVec best = TVec.Create(0);
        for (int i = 1; i < 8; i++)
        {
            TVec err = TVec.Abs(TVec.Create(values[i]) * d - a);
            TVec better = TVec.LessThan(err, bestErr);
            best = TVec.Select(better, TVec.Create(i), best);
            bestErr = TVec.Select(better, err, bestErr);
        }

        TVec negative = TVec.LessThan(x, TVec.Create(0)) & TVec.NotEquals(best, TVec.Create(0));
        return best + (negative & TVec.Create(8));
    }
}
