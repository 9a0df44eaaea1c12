using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>The rounding rules of the reference quantizers (docs/formats.md#rounding-rules): each format has its own, and all are kept exactly.</summary>
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

    /// <summary>
    /// A C float-to-integer cast as x86-64 executes it (<c>cvttss2si</c>): truncation toward zero, and
    /// 0x80000000 for NaN and out-of-range values. It matters when a block of float subnormals makes the inverse
    /// scale infinite: ggml's x86 bytes (the reference) then hold the low byte of 0x80000000. .NET's own cast saturates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int CTruncate(float x) => x >= -2147483648f && x < 2147483648f ? (int)x : int.MinValue;
}
