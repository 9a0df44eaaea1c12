using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>
/// The last step of the K-quants: 16 codes of a sub-block requantized with its final scale (and min),
/// <c>clamp(nearest_int((x + m) / d) + offset, 0, top)</c> with an exact IEEE division and nearest_int by ggml's bit
/// trick, and the first-pass codes of a sub-block whose final scale is zero, read back from the lane layout.
/// </summary>
internal static class SubBlockCodes
{
    /// <summary>
    /// dst[i] = clamp(nearest_int((x[i] + m) / d) + offset, 0, top) for 16 values; without <paramref name="hasMin"/>
    /// the quotient is x[i] / d (no addition at all, so no signed-zero or rounding question arises).
    /// </summary>
    /// <remarks>
    /// ggml's nearest_int(v) is (bits(v + 1.5·2²³) &amp; 0x7FFFFF) − 0x400000 for any v, so clamping
    /// (bits &amp; 0x7FFFFF) − (0x400000 − offset) to 0..top is exactly clamp(nearest_int(v), −offset, top − offset) + offset.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Requantize16(ref float xs, float d, float m, bool hasMin, int offset, int top, ref byte dst)
    {
        int bias = 0x00400000 - offset;
        if (Avx512F.IsSupported)
        {
            Vector512<float> v = Vector512.LoadUnsafe(ref xs);
            if (hasMin)
            {
                v += Vector512.Create(m);
            }

            Vector512<int> q = Vector512.Min(Vector512.Max((v / Vector512.Create(d) + Vector512.Create(12582912f)).AsInt32() & Vector512.Create(0x007FFFFF),
                                                           Vector512.Create(bias)) - Vector512.Create(bias), Vector512.Create(top));
            Avx512F.ConvertToVector128Byte(q).StoreUnsafe(ref dst);
            return;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> q0 = Codes(Vector256.LoadUnsafe(ref xs), d, m, hasMin, bias, top);
            Vector256<int> q1 = Codes(Vector256.LoadUnsafe(ref xs, 8), d, m, hasMin, bias, top);
            Vector256<byte> bytes = Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256<short>.Zero).AsByte();
            bytes.GetLower().StoreUnsafe(ref dst);
            return;
        }

        Vector128<int> r0 = Codes(Vector128.LoadUnsafe(ref xs), d, m, hasMin, bias, top);
        Vector128<int> r1 = Codes(Vector128.LoadUnsafe(ref xs, 4), d, m, hasMin, bias, top);
        Vector128<int> r2 = Codes(Vector128.LoadUnsafe(ref xs, 8), d, m, hasMin, bias, top);
        Vector128<int> r3 = Codes(Vector128.LoadUnsafe(ref xs, 12), d, m, hasMin, bias, top);
        Vector128.Narrow(Vector128.Narrow(r0, r1), Vector128.Narrow(r2, r3)).AsByte().StoreUnsafe(ref dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Codes(Vector256<float> v, float d, float m, bool hasMin, int bias, int top)
    {
        if (hasMin)
        {
            v += Vector256.Create(m);
        }

        return Vector256.Min(Vector256.Max((v / Vector256.Create(d) + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007FFFFF),
                                           Vector256.Create(bias)) - Vector256.Create(bias), Vector256.Create(top));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Codes(Vector128<float> v, float d, float m, bool hasMin, int bias, int top)
    {
        if (hasMin)
        {
            v += Vector128.Create(m);
        }

        return Vector128.Min(Vector128.Max((v / Vector128.Create(d) + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF),
                                           Vector128.Create(bias)) - Vector128.Create(bias), Vector128.Create(top));
    }

    /// <summary>
    /// The first-pass codes of sub-block <paramref name="subBlock"/> (<paramref name="dst"/>.Length of them: 16 or 32)
    /// from the lane layout of the searches: group g (sub-blocks g .. g + lanes − 1) sits at <c>codes[n·g ..]</c> with
    /// element e of lane k at <c>[e·lanes + k]</c>. Only sub-blocks whose final scale is zero need them, so they are not
    /// untransposed up front. <paramref name="offset"/> is added to codes kept signed.
    /// </summary>
    public static void FirstPass(ReadOnlySpan<float> codes, int lanes, int subBlock, Span<byte> dst, int offset = 0)
    {
        int n = dst.Length;
        int lane = subBlock % lanes;
        ReadOnlySpan<float> group = codes.Slice(n * (subBlock - lane), n * lanes);
        for (int e = 0; e < n; e++)
        {
            dst[e] = (byte)((int)group[e * lanes + lane] + offset);
        }
    }
}
