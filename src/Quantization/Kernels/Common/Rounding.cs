using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>The rounding rules of the reference quantizers (FORMATS.md §3): each format has its own, and all are kept exactly.</summary>
internal static class Rounding
{
    /// <summary>
    /// ggml's <c>nearest_int</c>: adds 1.5·2^23 and reads the mantissa bits, i.e. round half to even.
    /// Valid for |x| ≤ 4194303, the range ggml asserts.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float x)
    {
        float v = x + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007FFFFF) - 0x00400000;
    }

    /// <summary>C's <c>roundf</c>: round half away from zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundAwayFromZero(float x) => MathF.Round(x, MidpointRounding.AwayFromZero);

    /// <summary>C's <c>(int8_t)f</c> for the non-negative operands the legacy quantizers produce: truncation toward zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Truncate(float x) => (int)x;
}
