using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>
/// IEEE binary16 conversions as ggml stores them (<c>ggml_half</c> is a little-endian uint16).
/// .NET's <see cref="Half"/> conversion rounds to nearest even with subnormals, like ggml's
/// <c>GGML_FP32_TO_FP16</c>; the exhaustive test in the test suite holds this to the bit.
/// </summary>
internal static class Fp16
{
    /// <remarks>
    /// A NaN reaching a stored scale was created by the quantizer's own arithmetic (∞·0, ∞ − ∞ on overflowing
    /// blocks). x86 creates its default NaN with the sign set (0xFFC00000, FP16 0xFE00) and ggml's reference bytes carry
    /// it; other processors create it with the sign clear, so there the sign is set to write the same bytes.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        if (!X86Base.IsSupported && float.IsNaN(value))
        {
            value = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(value) | int.MinValue);
        }

        return BitConverter.HalfToUInt16Bits((Half)value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Rounds <paramref name="value"/> through FP16 and back, as the K-quants do with their stored scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float value) => ToSingle(FromSingle(value));
}
