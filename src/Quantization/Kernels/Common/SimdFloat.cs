using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>
/// A float vector of some width, so that a lane-parallel algorithm is written once and the JIT specialises it for
/// Vector128, Vector256 and Vector512 (generic struct instantiations compile to straight vector code). Only IEEE
/// element-wise operations are exposed: no fused multiply-add, so every lane computes what scalar code computes.
/// </summary>
internal interface ISimdFloat<TSelf> where TSelf : struct, ISimdFloat<TSelf>
{
    static abstract int Count { get; }
    static abstract bool IsSupported { get; }
    static abstract TSelf Create(float value);
    static abstract TSelf Load(ref readonly float source);
    static abstract void Store(TSelf value, ref float destination);
    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);
    static abstract TSelf operator &(TSelf a, TSelf b);
    static abstract TSelf operator |(TSelf a, TSelf b);
    /// <summary>ggml's <c>nearest_int</c> bit trick per lane, as a float: exact for every input, NaN and ±∞ included.</summary>
    static abstract TSelf NearestInt(TSelf a);
    /// <summary>
    /// clamp(round-half-even(a), lo, hi) as a float, for bounded arguments (|a| &lt; 2²²) like
    /// <see cref="SimdFloat.NearestSmallInt"/>: one conversion to int32 with the default rounding, an integer clamp and a
    /// conversion back, which keeps two of the four float operations off the float pipes. A NaN lane's value is
    /// unspecified (callers discard such lanes).
    /// </summary>
    static abstract TSelf RoundClamp(TSelf a, int lo, int hi);
    static abstract TSelf Negate(TSelf a);
    static abstract TSelf Sqrt(TSelf a);
    static abstract TSelf Abs(TSelf a);
    /// <summary>
    /// a &lt; b ? a : b per lane (for the ordered, NaN-free values the searches use). On x86 one MINPS / MAXPS, which is
    /// defined as exactly that select (the second operand on equality or NaN).
    /// </summary>
    static abstract TSelf Min(TSelf a, TSelf b);
    static abstract TSelf Max(TSelf a, TSelf b);
    static abstract TSelf GreaterThan(TSelf a, TSelf b);
    static abstract TSelf LessThan(TSelf a, TSelf b);
    static abstract TSelf NotEquals(TSelf a, TSelf b);
    /// <summary>mask ? a : b per lane, with an all-ones / all-zeros mask from a comparison.</summary>
    static abstract TSelf Select(TSelf mask, TSelf a, TSelf b);
    static abstract bool AnyTrue(TSelf mask);
    /// <summary>Bit k set when lane k of the comparison mask is true.</summary>
    static abstract uint MaskBits(TSelf mask);
    /// <summary>Bit k set when a[k] &gt; b[k]: on AVX-512 a compare into a mask register and one move to a general register.</summary>
    static abstract uint GreaterThanBits(TSelf a, TSelf b);
    /// <summary>Bit k set when a[k] == b[k].</summary>
    static abstract uint EqualBits(TSelf a, TSelf b);
    /// <summary>The comparison mask whose lane k is true when bit k of <paramref name="bits"/> is set.</summary>
    static abstract TSelf MaskFromBits(uint bits);
}

internal static class SimdFloat
{
    /// <summary>
    /// nearest_int for |a| &lt; 2²²: adding and subtracting 1.5·2²³ rounds half to even exactly as the bit trick of
    /// <see cref="ISimdFloat{TSelf}.NearestInt"/> does in that range, in two operations instead of four. Only for
    /// bounded arguments (scale × value of a search whose scale is derived from the group's own maximum).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec NearestSmallInt<TVec>(TVec a) where TVec : struct, ISimdFloat<TVec> =>
        a + TVec.Create(12582912f) - TVec.Create(12582912f);

    /// <summary>Clamps integral values to [lo, hi].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Clamp<TVec>(TVec x, float lo, float hi) where TVec : struct, ISimdFloat<TVec> =>
        TVec.Max(TVec.Create(lo), TVec.Min(TVec.Create(hi), x));
}

internal readonly struct SimdFloat128(Vector128<float> v) : ISimdFloat<SimdFloat128>
{
    private readonly Vector128<float> _v = v;

    public static int Count => Vector128<float>.Count;
    public static bool IsSupported => Vector128.IsHardwareAccelerated;
    public static SimdFloat128 Create(float value) => new(Vector128.Create(value));
    public static SimdFloat128 Load(ref readonly float source) => new(Vector128.LoadUnsafe(in source));
    public static void Store(SimdFloat128 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    public static SimdFloat128 operator +(SimdFloat128 a, SimdFloat128 b) => new(a._v + b._v);
    public static SimdFloat128 operator -(SimdFloat128 a, SimdFloat128 b) => new(a._v - b._v);
    public static SimdFloat128 operator *(SimdFloat128 a, SimdFloat128 b) => new(a._v * b._v);
    public static SimdFloat128 operator /(SimdFloat128 a, SimdFloat128 b) => new(a._v / b._v);
    public static SimdFloat128 operator &(SimdFloat128 a, SimdFloat128 b) => new(a._v & b._v);
    public static SimdFloat128 operator |(SimdFloat128 a, SimdFloat128 b) => new(a._v | b._v);
    public static SimdFloat128 NearestInt(SimdFloat128 a) =>
        new(Vector128.ConvertToSingle(((a._v + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF)) - Vector128.Create(0x00400000)));
    public static SimdFloat128 RoundClamp(SimdFloat128 a, int lo, int hi)
    {
        if (Sse2.IsSupported || AdvSimd.IsSupported)
        {
            Vector128<int> i = Sse2.IsSupported ? Sse2.ConvertToVector128Int32(a._v) : AdvSimd.ConvertToInt32RoundToEven(a._v);
            return new(Vector128.ConvertToSingle(Vector128.Min(Vector128.Max(i, Vector128.Create(lo)), Vector128.Create(hi))));
        }

        return SimdFloat.Clamp(SimdFloat.NearestSmallInt(a), lo, hi);
    }

    public static SimdFloat128 Negate(SimdFloat128 a) => new(-a._v);
    public static SimdFloat128 Sqrt(SimdFloat128 a) => new(Vector128.Sqrt(a._v));
    public static SimdFloat128 Abs(SimdFloat128 a) => new(Vector128.Abs(a._v));
    public static SimdFloat128 Min(SimdFloat128 a, SimdFloat128 b) =>
        new(Sse.IsSupported ? Sse.Min(a._v, b._v) : Vector128.ConditionalSelect(Vector128.LessThan(a._v, b._v), a._v, b._v));
    public static SimdFloat128 Max(SimdFloat128 a, SimdFloat128 b) =>
        new(Sse.IsSupported ? Sse.Max(a._v, b._v) : Vector128.ConditionalSelect(Vector128.GreaterThan(a._v, b._v), a._v, b._v));
    public static SimdFloat128 GreaterThan(SimdFloat128 a, SimdFloat128 b) => new(Vector128.GreaterThan(a._v, b._v));
    public static SimdFloat128 LessThan(SimdFloat128 a, SimdFloat128 b) => new(Vector128.LessThan(a._v, b._v));
    public static SimdFloat128 NotEquals(SimdFloat128 a, SimdFloat128 b) => new(~Vector128.Equals(a._v, b._v));
    public static SimdFloat128 Select(SimdFloat128 mask, SimdFloat128 a, SimdFloat128 b) => new(Vector128.ConditionalSelect(mask._v, a._v, b._v));
    public static bool AnyTrue(SimdFloat128 mask) => Vector128.ExtractMostSignificantBits(mask._v) != 0;
    public static uint MaskBits(SimdFloat128 mask) => (uint)Vector128.ExtractMostSignificantBits(mask._v);
    public static uint GreaterThanBits(SimdFloat128 a, SimdFloat128 b) => (uint)Vector128.ExtractMostSignificantBits(Vector128.GreaterThan(a._v, b._v));
    public static uint EqualBits(SimdFloat128 a, SimdFloat128 b) => (uint)Vector128.ExtractMostSignificantBits(Vector128.Equals(a._v, b._v));
    public static SimdFloat128 MaskFromBits(uint bits)
    {
        Vector128<uint> lane = Vector128.Create(1u, 2u, 4u, 8u);
        return new(Vector128.Equals(Vector128.Create(bits) & lane, lane).AsSingle());
    }
}

internal readonly struct SimdFloat256(Vector256<float> v) : ISimdFloat<SimdFloat256>
{
    private readonly Vector256<float> _v = v;

    public static int Count => Vector256<float>.Count;
    public static bool IsSupported => Vector256.IsHardwareAccelerated;
    public static SimdFloat256 Create(float value) => new(Vector256.Create(value));
    public static SimdFloat256 Load(ref readonly float source) => new(Vector256.LoadUnsafe(in source));
    public static void Store(SimdFloat256 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    public static SimdFloat256 operator +(SimdFloat256 a, SimdFloat256 b) => new(a._v + b._v);
    public static SimdFloat256 operator -(SimdFloat256 a, SimdFloat256 b) => new(a._v - b._v);
    public static SimdFloat256 operator *(SimdFloat256 a, SimdFloat256 b) => new(a._v * b._v);
    public static SimdFloat256 operator /(SimdFloat256 a, SimdFloat256 b) => new(a._v / b._v);
    public static SimdFloat256 operator &(SimdFloat256 a, SimdFloat256 b) => new(a._v & b._v);
    public static SimdFloat256 operator |(SimdFloat256 a, SimdFloat256 b) => new(a._v | b._v);
    public static SimdFloat256 NearestInt(SimdFloat256 a) =>
        new(Vector256.ConvertToSingle(((a._v + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007FFFFF)) - Vector256.Create(0x00400000)));
    public static SimdFloat256 RoundClamp(SimdFloat256 a, int lo, int hi)
    {
        if (Avx.IsSupported)
        {
            Vector256<int> i = Avx.ConvertToVector256Int32(a._v);
            return new(Vector256.ConvertToSingle(Vector256.Min(Vector256.Max(i, Vector256.Create(lo)), Vector256.Create(hi))));
        }

        return SimdFloat.Clamp(SimdFloat.NearestSmallInt(a), lo, hi);
    }

    public static SimdFloat256 Negate(SimdFloat256 a) => new(-a._v);
    public static SimdFloat256 Sqrt(SimdFloat256 a) => new(Vector256.Sqrt(a._v));
    public static SimdFloat256 Abs(SimdFloat256 a) => new(Vector256.Abs(a._v));
    public static SimdFloat256 Min(SimdFloat256 a, SimdFloat256 b) =>
        new(Avx.IsSupported ? Avx.Min(a._v, b._v) : Vector256.ConditionalSelect(Vector256.LessThan(a._v, b._v), a._v, b._v));
    public static SimdFloat256 Max(SimdFloat256 a, SimdFloat256 b) =>
        new(Avx.IsSupported ? Avx.Max(a._v, b._v) : Vector256.ConditionalSelect(Vector256.GreaterThan(a._v, b._v), a._v, b._v));
    public static SimdFloat256 GreaterThan(SimdFloat256 a, SimdFloat256 b) => new(Vector256.GreaterThan(a._v, b._v));
    public static SimdFloat256 LessThan(SimdFloat256 a, SimdFloat256 b) => new(Vector256.LessThan(a._v, b._v));
    public static SimdFloat256 NotEquals(SimdFloat256 a, SimdFloat256 b) => new(~Vector256.Equals(a._v, b._v));
    public static SimdFloat256 Select(SimdFloat256 mask, SimdFloat256 a, SimdFloat256 b) => new(Vector256.ConditionalSelect(mask._v, a._v, b._v));
    public static bool AnyTrue(SimdFloat256 mask) => Vector256.ExtractMostSignificantBits(mask._v) != 0;
    public static uint MaskBits(SimdFloat256 mask) => (uint)Vector256.ExtractMostSignificantBits(mask._v);
    public static uint GreaterThanBits(SimdFloat256 a, SimdFloat256 b) => (uint)Vector256.ExtractMostSignificantBits(Vector256.GreaterThan(a._v, b._v));
    public static uint EqualBits(SimdFloat256 a, SimdFloat256 b) => (uint)Vector256.ExtractMostSignificantBits(Vector256.Equals(a._v, b._v));
    public static SimdFloat256 MaskFromBits(uint bits)
    {
        Vector256<uint> lane = Vector256.Create(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u);
        return new(Vector256.Equals(Vector256.Create(bits) & lane, lane).AsSingle());
    }
}

internal readonly struct SimdFloat512(Vector512<float> v) : ISimdFloat<SimdFloat512>
{
    private readonly Vector512<float> _v = v;

    public static int Count => Vector512<float>.Count;
    public static bool IsSupported => Vector512.IsHardwareAccelerated;
    public static SimdFloat512 Create(float value) => new(Vector512.Create(value));
    public static SimdFloat512 Load(ref readonly float source) => new(Vector512.LoadUnsafe(in source));
    public static void Store(SimdFloat512 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    public static SimdFloat512 operator +(SimdFloat512 a, SimdFloat512 b) => new(a._v + b._v);
    public static SimdFloat512 operator -(SimdFloat512 a, SimdFloat512 b) => new(a._v - b._v);
    public static SimdFloat512 operator *(SimdFloat512 a, SimdFloat512 b) => new(a._v * b._v);
    public static SimdFloat512 operator /(SimdFloat512 a, SimdFloat512 b) => new(a._v / b._v);
    public static SimdFloat512 operator &(SimdFloat512 a, SimdFloat512 b) => new(a._v & b._v);
    public static SimdFloat512 operator |(SimdFloat512 a, SimdFloat512 b) => new(a._v | b._v);
    public static SimdFloat512 NearestInt(SimdFloat512 a) =>
        new(Vector512.ConvertToSingle(((a._v + Vector512.Create(12582912f)).AsInt32() & Vector512.Create(0x007FFFFF)) - Vector512.Create(0x00400000)));
    public static SimdFloat512 RoundClamp(SimdFloat512 a, int lo, int hi)
    {
        if (Avx512F.IsSupported)
        {
            Vector512<int> i = Avx512F.ConvertToVector512Int32(a._v);
            return new(Vector512.ConvertToSingle(Vector512.Min(Vector512.Max(i, Vector512.Create(lo)), Vector512.Create(hi))));
        }

        return SimdFloat.Clamp(SimdFloat.NearestSmallInt(a), lo, hi);
    }

    public static SimdFloat512 Negate(SimdFloat512 a) => new(-a._v);
    public static SimdFloat512 Sqrt(SimdFloat512 a) => new(Vector512.Sqrt(a._v));
    public static SimdFloat512 Abs(SimdFloat512 a) => new(Vector512.Abs(a._v));
    public static SimdFloat512 Min(SimdFloat512 a, SimdFloat512 b) =>
        new(Avx512F.IsSupported ? Avx512F.Min(a._v, b._v) : Vector512.ConditionalSelect(Vector512.LessThan(a._v, b._v), a._v, b._v));
    public static SimdFloat512 Max(SimdFloat512 a, SimdFloat512 b) =>
        new(Avx512F.IsSupported ? Avx512F.Max(a._v, b._v) : Vector512.ConditionalSelect(Vector512.GreaterThan(a._v, b._v), a._v, b._v));
    public static SimdFloat512 GreaterThan(SimdFloat512 a, SimdFloat512 b) => new(Vector512.GreaterThan(a._v, b._v));
    public static SimdFloat512 LessThan(SimdFloat512 a, SimdFloat512 b) => new(Vector512.LessThan(a._v, b._v));
    public static SimdFloat512 NotEquals(SimdFloat512 a, SimdFloat512 b) => new(~Vector512.Equals(a._v, b._v));
    public static SimdFloat512 Select(SimdFloat512 mask, SimdFloat512 a, SimdFloat512 b) => new(Vector512.ConditionalSelect(mask._v, a._v, b._v));
    public static bool AnyTrue(SimdFloat512 mask) => Vector512.ExtractMostSignificantBits(mask._v) != 0;
    public static uint MaskBits(SimdFloat512 mask) => (uint)Vector512.ExtractMostSignificantBits(mask._v);
    public static uint GreaterThanBits(SimdFloat512 a, SimdFloat512 b) => (uint)Vector512.ExtractMostSignificantBits(Vector512.GreaterThan(a._v, b._v));
    public static uint EqualBits(SimdFloat512 a, SimdFloat512 b) => (uint)Vector512.ExtractMostSignificantBits(Vector512.Equals(a._v, b._v));
    public static SimdFloat512 MaskFromBits(uint bits)
    {
        Vector512<uint> lane = Vector512.Create(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u);
        return new(Vector512.Equals(Vector512.Create(bits) & lane, lane).AsSingle());
    }
}
