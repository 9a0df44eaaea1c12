using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>
/// IEEE binary16 conversions as ggml stores them (<c>ggml_half</c> is a little-endian uint16).
/// .NET's <see cref="Half"/> conversion rounds to nearest even with subnormals, like ggml's
/// <c>GGML_FP32_TO_FP16</c>; the exhaustive test in the test suite holds this to the bit.
/// </summary>
internal static class Fp16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Rounds <paramref name="value"/> through FP16 and back, as the K-quants do with their stored scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float value) => ToSingle(FromSingle(value));
}
