using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>Maps one float to an integer code, in scalar and in every vector width (the quantizer's per-value step).</summary>
internal interface ICodeOp
{
    int Invoke(float x);
    Vector128<int> Invoke(Vector128<float> x);
    Vector256<int> Invoke(Vector256<float> x);
    Vector512<int> Invoke(Vector512<float> x);
}

/// <summary>Maps integer codes to floats, in every vector width (the dequantizer's per-value step).</summary>
internal interface IValueOp
{
    Vector128<float> Invoke(Vector128<int> q);
    Vector256<float> Invoke(Vector256<int> q);
    Vector512<float> Invoke(Vector512<int> q);
}

/// <summary>
/// Vector building blocks for 32-value blocks, one method per step and one branch per width
/// (Vector512 → Vector256 → Vector128, the widest the JIT accelerates). Every operation is element-wise
/// or an exact reduction, so each lane computes exactly what the scalar reference computes.
/// Reductions use the native min/max instructions: the inputs are finite (the façade rejects NaN), and the only
/// case where native and IEEE semantics differ, the sign of a zero, is settled after the reduction.
/// </summary>
internal static class Block32
{
    public const int Size = 32;

    /// <summary>max |x| over 32 values (exact in any order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAbs(ref float x)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> m = Vector512.MaxNative(Vector512.Abs(Vector512.LoadUnsafe(ref x)), Vector512.Abs(Vector512.LoadUnsafe(ref x, 16)));
            return Max(Vector256.MaxNative(m.GetLower(), m.GetUpper()));
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> m = Vector256.MaxNative(
                Vector256.MaxNative(Vector256.Abs(Vector256.LoadUnsafe(ref x)), Vector256.Abs(Vector256.LoadUnsafe(ref x, 8))),
                Vector256.MaxNative(Vector256.Abs(Vector256.LoadUnsafe(ref x, 16)), Vector256.Abs(Vector256.LoadUnsafe(ref x, 24))));
            return Max(m);
        }

        Vector128<float> a = Vector128.MaxNative(
            Vector128.MaxNative(Vector128.Abs(Vector128.LoadUnsafe(ref x)), Vector128.Abs(Vector128.LoadUnsafe(ref x, 4))),
            Vector128.MaxNative(Vector128.Abs(Vector128.LoadUnsafe(ref x, 8)), Vector128.Abs(Vector128.LoadUnsafe(ref x, 12))));
        Vector128<float> b = Vector128.MaxNative(
            Vector128.MaxNative(Vector128.Abs(Vector128.LoadUnsafe(ref x, 16)), Vector128.Abs(Vector128.LoadUnsafe(ref x, 20))),
            Vector128.MaxNative(Vector128.Abs(Vector128.LoadUnsafe(ref x, 24)), Vector128.Abs(Vector128.LoadUnsafe(ref x, 28))));
        return Max(Vector128.MaxNative(a, b));
    }

    /// <summary>
    /// The value of largest magnitude, the first one when several tie (the reference's strict <c>amax &lt; |v|</c> scan),
    /// and +0 for an all-zero block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SignedMaxAbs(ref float x, out float amax)
    {
        amax = MaxAbs(ref x);
        if (amax == 0)
        {
            return 0f;
        }

        uint mask = EqualsMask(ref x, amax, abs: true);
        return Unsafe.Add(ref x, BitOperations.TrailingZeroCount(mask));
    }

    /// <summary>
    /// min and max over 32 values with the reference's first-wins semantics (which matters only for the sign of a zero).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MinMax(ref float x, out float min, out float max)
    {
        float mn, mx;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a = Vector256.LoadUnsafe(ref x), b = Vector256.LoadUnsafe(ref x, 8);
            Vector256<float> c = Vector256.LoadUnsafe(ref x, 16), d = Vector256.LoadUnsafe(ref x, 24);
            mn = Min(Vector256.MinNative(Vector256.MinNative(a, b), Vector256.MinNative(c, d)));
            mx = Max(Vector256.MaxNative(Vector256.MaxNative(a, b), Vector256.MaxNative(c, d)));
        }
        else
        {
            Vector128<float> lo = Vector128.LoadUnsafe(ref x), hi = lo;
            for (int i = 4; i < Size; i += 4)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)i);
                lo = Vector128.MinNative(lo, v);
                hi = Vector128.MaxNative(hi, v);
            }

            mn = Min(lo);
            mx = Max(hi);
        }

        // ±0 compare equal: the reference keeps the first zero it meets.
        min = mn == 0 ? Unsafe.Add(ref x, BitOperations.TrailingZeroCount(EqualsMask(ref x, 0f, abs: false))) : mn;
        max = mx == 0 ? Unsafe.Add(ref x, BitOperations.TrailingZeroCount(EqualsMask(ref x, 0f, abs: false))) : mx;
    }

    /// <summary>Bit i set when x[i] (or |x[i]|) equals <paramref name="value"/>.</summary>
    private static uint EqualsMask(ref float x, float value, bool abs)
    {
        uint mask = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> t = Vector256.Create(value);
            for (int i = 0; i < Size; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref x, (nuint)i);
                mask |= Vector256.ExtractMostSignificantBits(Vector256.Equals(abs ? Vector256.Abs(v) : v, t)) << i;
            }
        }
        else
        {
            Vector128<float> t = Vector128.Create(value);
            for (int i = 0; i < Size; i += 4)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)i);
                mask |= Vector128.ExtractMostSignificantBits(Vector128.Equals(abs ? Vector128.Abs(v) : v, t)) << i;
            }
        }

        return mask;
    }

    /// <summary>
    /// ggml's symmetric rounding of one block (Q4_0, Q5_0): d = max / −<paramref name="half"/> with max the value of
    /// largest magnitude, codes trunc(x·(1/d) + half + 0.5) up to <paramref name="maxCode"/>; returns d.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SymmetricCodes(ref float x, float half, int maxCode, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        float max = SignedMaxAbs(ref x, out _);
        float d = max / -half;
        float id = d != 0 ? 1.0f / d : 0.0f;
        Codes(ref x, new TruncateCodeOp(0f, id, half + 0.5f, maxCode), out lo, out hi);
        return d;
    }

    /// <summary>
    /// ggml's affine rounding of one block (Q4_1, Q5_1): d = (max − min) / <paramref name="levels"/>, codes
    /// trunc((x − min)·(1/d) + 0.5) up to <paramref name="maxCode"/>; returns d.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AffineCodes(ref float x, int levels, int maxCode, out float min, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        MinMax(ref x, out min, out float max);
        float d = (max - min) / levels;
        float id = d != 0 ? 1.0f / d : 0.0f;
        Codes(ref x, new TruncateCodeOp(min, id, 0.5f, maxCode), out lo, out hi);
        return d;
    }

    /// <summary>Applies <paramref name="op"/> to 32 values; codes of elements 0..15 land in <paramref name="lo"/>, 16..31 in <paramref name="hi"/> (low 8 bits of each code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Codes<TOp>(ref float x, TOp op, out Vector128<byte> lo, out Vector128<byte> hi)
        where TOp : struct, ICodeOp
    {
        if (Vector512.IsHardwareAccelerated)
        {
            lo = Avx512F.ConvertToVector128Byte(op.Invoke(Vector512.LoadUnsafe(ref x)));
            hi = Avx512F.ConvertToVector128Byte(op.Invoke(Vector512.LoadUnsafe(ref x, 16)));
            return;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<short> s0 = Vector256.Narrow(op.Invoke(Vector256.LoadUnsafe(ref x)), op.Invoke(Vector256.LoadUnsafe(ref x, 8)));
            Vector256<short> s1 = Vector256.Narrow(op.Invoke(Vector256.LoadUnsafe(ref x, 16)), op.Invoke(Vector256.LoadUnsafe(ref x, 24)));
            Vector256<byte> b = Vector256.Narrow(s0.AsUInt16(), s1.AsUInt16());
            lo = b.GetLower();
            hi = b.GetUpper();
            return;
        }

        lo = Narrow16(ref x, op);
        hi = Narrow16(ref Unsafe.Add(ref x, 16), op);
    }

    private static Vector128<byte> Narrow16<TOp>(ref float x, TOp op) where TOp : struct, ICodeOp
    {
        Vector128<short> s0 = Vector128.Narrow(op.Invoke(Vector128.LoadUnsafe(ref x)), op.Invoke(Vector128.LoadUnsafe(ref x, 4)));
        Vector128<short> s1 = Vector128.Narrow(op.Invoke(Vector128.LoadUnsafe(ref x, 8)), op.Invoke(Vector128.LoadUnsafe(ref x, 12)));
        return Vector128.Narrow(s0.AsUInt16(), s1.AsUInt16());
    }

    /// <summary>Widens 16 signed byte codes and stores <paramref name="op"/>'s floats to y[0..15].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Values16<TOp>(Vector128<sbyte> codes, TOp op, ref float y) where TOp : struct, IValueOp
    {
        if (Vector512.IsHardwareAccelerated)
        {
            op.Invoke(Avx512F.ConvertToVector512Int32(codes)).StoreUnsafe(ref y);
            return;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            op.Invoke(Avx2.ConvertToVector256Int32(codes)).StoreUnsafe(ref y);
            op.Invoke(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8))).StoreUnsafe(ref y, 8);
            return;
        }

        Vector128<short> s0 = Vector128.WidenLower(codes), s1 = Vector128.WidenUpper(codes);
        op.Invoke(Vector128.WidenLower(s0)).StoreUnsafe(ref y);
        op.Invoke(Vector128.WidenUpper(s0)).StoreUnsafe(ref y, 4);
        op.Invoke(Vector128.WidenLower(s1)).StoreUnsafe(ref y, 8);
        op.Invoke(Vector128.WidenUpper(s1)).StoreUnsafe(ref y, 12);
    }

    /// <summary>
    /// The Q8_0 / Q8_1 block step: d = amax/127 and roundf(x/d) into <paramref name="qs"/>; returns the unrounded d
    /// (the caller stores FP16(d)) and leaves the codes in <paramref name="lo"/> / <paramref name="hi"/> for sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float QuantizeQ8(ref float x, ref sbyte qs, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        float d = MaxAbs(ref x) / ((1 << 7) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        Codes(ref x, new RoundAwayCodeOp(id), out lo, out hi);
        lo.AsSByte().StoreUnsafe(ref qs);
        hi.AsSByte().StoreUnsafe(ref qs, 16);
        return d;
    }

    /// <summary>y = q·d for 32 signed 8-bit codes (Q8_0, Q8_1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DequantizeQ8(ref readonly sbyte qs, float d, ref float y)
    {
        var op = new ScaleValueOp(0, d);
        Values16(Vector128.LoadUnsafe(in qs), op, ref y);
        Values16(Vector128.LoadUnsafe(in qs, 16), op, ref Unsafe.Add(ref y, 16));
    }

    /// <summary>The sum of 16 signed 8-bit codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Sum(Vector128<byte> codes) =>
        Vector128.Sum(Vector128.WidenLower(codes.AsSByte()) + Vector128.WidenUpper(codes.AsSByte()));

    /// <summary>Low and high nibbles of 16 bytes: the 32 codes of a Q4_0-style block (elements 0..15, 16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SplitNibbles(Vector128<byte> packed, out Vector128<byte> lo, out Vector128<byte> hi)
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        lo = packed & mask;
        hi = Vector128.ShiftRightLogical(packed, 4) & mask;
    }

    /// <summary>Packs two 4-bit code vectors into bytes: element j in the low nibble, element j+16 in the high nibble.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> PackNibbles(Vector128<byte> lo, Vector128<byte> hi) =>
        (lo & Vector128.Create((byte)0x0F)) | Vector128.ShiftLeft(hi, 4);

    /// <summary>Bit 4 of each of 32 codes gathered into a 32-bit mask (bit j = element j), Q5's qh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HighBits(Vector128<byte> lo, Vector128<byte> hi) =>
        Vector128.ExtractMostSignificantBits(Vector128.ShiftLeft(lo, 3))
        | (Vector128.ExtractMostSignificantBits(Vector128.ShiftLeft(hi, 3)) << 16);

    /// <summary>0x10 in byte j where bit j of the 16-bit <paramref name="bits"/> is set: Q5's fifth bit, spread out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> SpreadBit4(uint bits)
    {
        Vector128<byte> b = Vector128.Shuffle(
            Vector128.CreateScalarUnsafe((ushort)bits).AsByte(),
            Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        Vector128<byte> select = Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector128.Equals(b & select, select) & Vector128.Create((byte)0x10);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max(Vector256<float> v) => Max(Vector128.MaxNative(v.GetLower(), v.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Min(Vector256<float> v) => Min(Vector128.MinNative(v.GetLower(), v.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max(Vector128<float> v)
    {
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)));
        return v.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Min(Vector128<float> v)
    {
        v = Vector128.MinNative(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        v = Vector128.MinNative(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)));
        return v.ToScalar();
    }
}

/// <summary>
/// C casts as x86-64 executes them (see <see cref="Rounding.CTruncate"/>): truncate, 0x80000000 out of range,
/// then keep the low byte sign-extended, as a cast to int8_t does.
/// </summary>
internal static class CCast
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> ToInt8(Vector128<float> v) =>
        Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(Vector128.ConditionalSelect(
            Vector128.LessThan(Vector128.Abs(v), Vector128.Create(2147483648f)).AsInt32(),
            Vector128.ConvertToInt32(v), Vector128.Create(int.MinValue)), 24), 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ToInt8(Vector256<float> v) =>
        Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(Vector256.ConditionalSelect(
            Vector256.LessThan(Vector256.Abs(v), Vector256.Create(2147483648f)).AsInt32(),
            Vector256.ConvertToInt32(v), Vector256.Create(int.MinValue)), 24), 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> ToInt8(Vector512<float> v) =>
        Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(Vector512.ConditionalSelect(
            Vector512.LessThan(Vector512.Abs(v), Vector512.Create(2147483648f)).AsInt32(),
            Vector512.ConvertToInt32(v), Vector512.Create(int.MinValue)), 24), 24);
}

/// <summary>min(max, (int8)((x − sub)·mul + add)): the truncating rule of the legacy quantizers (Q4_0, Q4_1, Q5_0, Q5_1).</summary>
internal readonly struct TruncateCodeOp(float sub, float mul, float add, int max) : ICodeOp
{
    public int Invoke(float x) => Math.Min(max, (int)(sbyte)Rounding.CTruncate((x - sub) * mul + add));

    public Vector128<int> Invoke(Vector128<float> x) =>
        Vector128.Min(Vector128.Create(max), CCast.ToInt8((x - Vector128.Create(sub)) * Vector128.Create(mul) + Vector128.Create(add)));

    public Vector256<int> Invoke(Vector256<float> x) =>
        Vector256.Min(Vector256.Create(max), CCast.ToInt8((x - Vector256.Create(sub)) * Vector256.Create(mul) + Vector256.Create(add)));

    public Vector512<int> Invoke(Vector512<float> x) =>
        Vector512.Min(Vector512.Create(max), CCast.ToInt8((x - Vector512.Create(sub)) * Vector512.Create(mul) + Vector512.Create(add)));
}

/// <summary>(int8)roundf(x·mul), half away from zero: the rule of Q8_0 / Q8_1.</summary>
internal readonly struct RoundAwayCodeOp(float mul) : ICodeOp
{
    public int Invoke(float x) => (sbyte)Rounding.CTruncate(Rounding.RoundAwayFromZero(x * mul));

    // roundf(v) = trunc(v) ± 1 where the exact remainder v − trunc(v) reaches ±0.5; then the x86 cast.
    public Vector128<int> Invoke(Vector128<float> x)
    {
        Vector128<float> v = x * Vector128.Create(mul);
        Vector128<float> t = Vector128.Truncate(v);
        Vector128<float> r = v - t;
        t += (Vector128.GreaterThanOrEqual(r, Vector128.Create(0.5f)) & Vector128<float>.One)
             - (Vector128.LessThanOrEqual(r, Vector128.Create(-0.5f)) & Vector128<float>.One);
        return CCast.ToInt8(t);
    }

    public Vector256<int> Invoke(Vector256<float> x)
    {
        Vector256<float> v = x * Vector256.Create(mul);
        Vector256<float> t = Vector256.Truncate(v);
        Vector256<float> r = v - t;
        t += (Vector256.GreaterThanOrEqual(r, Vector256.Create(0.5f)) & Vector256<float>.One)
             - (Vector256.LessThanOrEqual(r, Vector256.Create(-0.5f)) & Vector256<float>.One);
        return CCast.ToInt8(t);
    }

    public Vector512<int> Invoke(Vector512<float> x)
    {
        Vector512<float> v = x * Vector512.Create(mul);
        Vector512<float> t = Vector512.Truncate(v);
        Vector512<float> r = v - t;
        t += (Vector512.GreaterThanOrEqual(r, Vector512.Create(0.5f)) & Vector512<float>.One)
             - (Vector512.LessThanOrEqual(r, Vector512.Create(-0.5f)) & Vector512<float>.One);
        return CCast.ToInt8(t);
    }
}
/// <summary>(q − offset)·d: type-0 dequantization (Q4_0, Q5_0, Q8_0 with offset 0).</summary>
internal readonly struct ScaleValueOp(int offset, float d) : IValueOp
{
    public Vector128<float> Invoke(Vector128<int> q) => Vector128.ConvertToSingle(q - Vector128.Create(offset)) * Vector128.Create(d);

    public Vector256<float> Invoke(Vector256<int> q) => Vector256.ConvertToSingle(q - Vector256.Create(offset)) * Vector256.Create(d);

    public Vector512<float> Invoke(Vector512<int> q) => Vector512.ConvertToSingle(q - Vector512.Create(offset)) * Vector512.Create(d);
}

/// <summary>q·d + m, multiply then add, separately rounded: type-1 dequantization (Q4_1, Q5_1).</summary>
internal readonly struct AffineValueOp(float d, float m) : IValueOp
{
    public Vector128<float> Invoke(Vector128<int> q) => Vector128.ConvertToSingle(q) * Vector128.Create(d) + Vector128.Create(m);

    public Vector256<float> Invoke(Vector256<int> q) => Vector256.ConvertToSingle(q) * Vector256.Create(d) + Vector256.Create(m);

    public Vector512<float> Invoke(Vector512<int> q) => Vector512.ConvertToSingle(q) * Vector512.Create(d) + Vector512.Create(m);
}

/// <summary>min(max, nearest_int(x·mul)): ggml's add-1.5·2^23 bit trick, replayed in every lane (exact for every input).</summary>
internal readonly struct NearestCodeOp(float mul, int max) : ICodeOp
{
    public int Invoke(float x) => Math.Min(max, Rounding.NearestInt(x * mul));

    public Vector128<int> Invoke(Vector128<float> x) =>
        Vector128.Min(Vector128.Create(max),
            ((x * Vector128.Create(mul) + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF)) - Vector128.Create(0x00400000));

    public Vector256<int> Invoke(Vector256<float> x) =>
        Vector256.Min(Vector256.Create(max),
            ((x * Vector256.Create(mul) + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007FFFFF)) - Vector256.Create(0x00400000));

    public Vector512<int> Invoke(Vector512<float> x) =>
        Vector512.Min(Vector512.Create(max),
            ((x * Vector512.Create(mul) + Vector512.Create(12582912f)).AsInt32() & Vector512.Create(0x007FFFFF)) - Vector512.Create(0x00400000));
}
