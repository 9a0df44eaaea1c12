using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The per-value step of ggml's ternary quantizers (TQ1_0, TQ2_0): <c>xi = lroundf(x·id) + 1</c>, with C's
/// <c>lroundf</c> (half away from zero) as x86-64 glibc executes it.
/// </summary>
internal static class TernaryCodes
{
    /// <summary>
    /// C's <c>lroundf</c> on x86-64: round half away from zero; NaN and values beyond the range of <c>long</c> give
    /// <c>LONG_MIN</c> (glibc falls back to a <c>cvttss2si</c> conversion there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long LRoundF(float v) =>
        MathF.Abs(v) < 9.223372036854775808e18f ? (long)MathF.Round(v, MidpointRounding.AwayFromZero) : long.MinValue;

    /// <summary>ggml's <c>int xi = lroundf(x * id) + 1</c>: the long sum truncated to int, as the C assignment does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Code(float x, float id) => unchecked((int)(LRoundF(x * id) + 1));

    /// <summary>The block scale's inverse, <c>id = d ? 1.0f/d : 0.0f</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Inverse(float d) => d != 0 ? 1.0f / d : 0.0f;
}

/// <summary>
/// <see cref="TernaryCodes.Code"/> in every vector width. With a finite id = 1/amax, |x·id| ≤ 1 + 2⁻²³, so lroundf
/// gives −1, 0 or 1 by comparing with ±0.5 (ties away from zero); with id = +∞ (a block of tiny float subnormals) x·id
/// is ±∞ or NaN and lroundf's LONG_MIN + 1 truncates to 1, the zero code: both cases are these two compares.
/// </summary>
internal readonly struct TernaryCodeOp(float id) : ICodeOp
{
    public int Invoke(float x) => TernaryCodes.Code(x, id);

    public Vector128<int> Invoke(Vector128<float> x)
    {
        Vector128<float> v = x * Vector128.Create(id);
        Vector128<int> up = (Vector128.GreaterThanOrEqual(v, Vector128.Create(0.5f)) & Vector128.LessThanOrEqual(v, Vector128.Create(float.MaxValue))).AsInt32();
        Vector128<int> down = (Vector128.LessThanOrEqual(v, Vector128.Create(-0.5f)) & Vector128.GreaterThanOrEqual(v, Vector128.Create(float.MinValue))).AsInt32();
        return Vector128<int>.One - up + down; // masks are −1 where set
    }

    public Vector256<int> Invoke(Vector256<float> x)
    {
        Vector256<float> v = x * Vector256.Create(id);
        Vector256<int> up = (Vector256.GreaterThanOrEqual(v, Vector256.Create(0.5f)) & Vector256.LessThanOrEqual(v, Vector256.Create(float.MaxValue))).AsInt32();
        Vector256<int> down = (Vector256.LessThanOrEqual(v, Vector256.Create(-0.5f)) & Vector256.GreaterThanOrEqual(v, Vector256.Create(float.MinValue))).AsInt32();
        return Vector256<int>.One - up + down;
    }

    public Vector512<int> Invoke(Vector512<float> x)
    {
        Vector512<float> v = x * Vector512.Create(id);
        Vector512<int> up = (Vector512.GreaterThanOrEqual(v, Vector512.Create(0.5f)) & Vector512.LessThanOrEqual(v, Vector512.Create(float.MaxValue))).AsInt32();
        Vector512<int> down = (Vector512.LessThanOrEqual(v, Vector512.Create(-0.5f)) & Vector512.GreaterThanOrEqual(v, Vector512.Create(float.MinValue))).AsInt32();
        return Vector512<int>.One - up + down;
    }
}
