using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Vector steps shared by the ternary kernels (TQ1_0, TQ2_0).</summary>
internal static class TernaryBlocks
{
    /// <summary>
    /// A super-block's FP16 scale d = max |x| and the op that rounds x to its ternary code by 1/d, as ggml's TQ1_0 and
    /// TQ2_0 quantizers start.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Scale(ref float x, out TernaryCodeOp op)
    {
        float d = MaxAbs256(ref x);
        op = new TernaryCodeOp(TernaryCodes.Inverse(d));
        return Fp16.FromSingle(d);
    }

    /// <summary>max |x| over a 256-value super-block (exact in any order; the reference's <c>MAX</c> scan gives the same float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAbs256(ref float x)
    {
        float amax = 0f;
        for (int g = 0; g < 256; g += Block32.Size)
        {
            amax = Math.Max(amax, Block32.MaxAbs(ref Unsafe.Add(ref x, g)));
        }

        return amax;
    }

    /// <summary>TQ2_0's byte: c0 | c1 &lt;&lt; 2 | c2 &lt;&lt; 4 | c3 &lt;&lt; 6 for codes 0..2 of four groups 32 apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Pack2Bit(Vector128<byte> c0, Vector128<byte> c1, Vector128<byte> c2, Vector128<byte> c3) =>
        c0 | Vector128.ShiftLeft(c1, 2) | Vector128.ShiftLeft(c2, 4) | Vector128.ShiftLeft(c3, 6);

    /// <summary>3·v in byte lanes (wrapping, as a uint8_t product does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Times3(Vector128<byte> v) => v + v + v;

    /// <summary>The base-3 value of five trit vectors, the first the most significant: ((((t0·3 + t1)·3 + t2)·3 + t3)·3 + t4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Base3(Vector128<byte> t0, Vector128<byte> t1, Vector128<byte> t2, Vector128<byte> t3, Vector128<byte> t4) =>
        Times3(Times3(Times3(Times3(t0) + t1) + t2) + t3) + t4;

    /// <summary>
    /// TQ1_0's stored byte of each base-3 value v ≤ 242: ceil(v·256/243) = (v·256 + 242) / 243, the division done as
    /// (n·69043) &gt;&gt; 24 in 32-bit lanes (exact for n ≤ 62194, checked for every v by a test).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> CeilScale(Vector128<byte> v)
    {
        (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(v);
        (Vector128<uint> a, Vector128<uint> b) = Vector128.Widen(lo);
        (Vector128<uint> c, Vector128<uint> d) = Vector128.Widen(hi);
        return Vector128.Narrow(Vector128.Narrow(Div243(a), Div243(b)), Vector128.Narrow(Div243(c), Div243(d)));

        static Vector128<uint> Div243(Vector128<uint> q) =>
            Vector128.ShiftRightLogical((Vector128.ShiftLeft(q, 8) + Vector128.Create(242u)) * Vector128.Create(69043u), 24);
    }

    /// <summary>
    /// Trit of each stored TQ1_0 byte after its multiplication by 3ⁿ: <c>(t·3) &gt;&gt; 8</c> is 0 below 86, 1 below 171, else 2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> TritOf(Vector128<byte> t) =>
        (Vector128.GreaterThanOrEqual(t, Vector128.Create((byte)86)) & Vector128<byte>.One)
        + (Vector128.GreaterThanOrEqual(t, Vector128.Create((byte)171)) & Vector128<byte>.One);
}
