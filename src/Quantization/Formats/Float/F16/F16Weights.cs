using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>
/// F16 weights, widened with integer operations and one multiplication (.NET exposes no <c>vcvtph2ps</c> /
/// <c>fcvtl</c>): the half sign-extended to 32 bits and shifted left by 13 puts its exponent and mantissa in the
/// float32 fields with the sign in bit 31 (and copies of it in bits 28–30, masked off); that float32 is the half's
/// value times 2⁻¹¹² (exactly, F16 subnormals becoming float32 subnormals). The loads stop there: the factor 2¹¹²
/// (<see cref="ActivationScale"/>, a power of two, so every product is the same real number) is applied once to each
/// activation vector for the four rows of a group, and a row whose sum overflows (an activation of 2¹⁶ or more) takes
/// the reference. Infinities and NaNs (exponent 31) would come out as finite values: instead of a compare and a blend
/// per vector, the largest magnitude (the half without its sign) of each row is kept, and a row holding one takes the
/// reference too (<see cref="IsFinite(Vector128{ushort})"/>).
/// </summary>
internal readonly struct F16Weights : IFloatWeights
{

    /// <summary>Sign, exponent and mantissa of the shifted half; bits 28–30 hold copies of the sign.</summary>
    private const uint Fields = 0x8FFF_FFFF;

    /// <summary>The smallest magnitude with exponent 31 (infinity; NaNs are above).</summary>
    private const ushort Infinity = 0x7C00;

    private const ushort Magnitude = 0x7FFF;

    public static QuantType WeightType => QuantType.F16;

    /// <summary>2¹¹²: the difference of the float32 and float16 exponent biases (127 − 15).</summary>
    public static float ActivationScale => 5.192296858534828e33f;

    public static int ElementBytes => sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ref byte row, nint index) => Kernels.Fp16.ToSingle(Unsafe.Add(ref Unsafe.As<byte, ushort>(ref row), index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte row, nint index, ref Vector256<ushort> magnitudes)
    {
        Vector256<short> h = Vector256.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index);
        magnitudes = Vector256.Max(magnitudes, h.AsUInt16() & Vector256.Create(Magnitude));
        Vector512<uint> v = (Avx512F.ConvertToVector512Int32(h).AsUInt32() << 13) & Vector512.Create(Fields);
        return v.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte row, nint index, ref Vector128<ushort> magnitudes)
    {
        Vector128<short> h = Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index);
        magnitudes = Vector128.Max(magnitudes, h.AsUInt16() & Vector128.Create(Magnitude));
        Vector256<uint> v = (Avx2.ConvertToVector256Int32(h).AsUInt32() << 13) & Vector256.Create(Fields);
        return v.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index, ref Vector128<ushort> magnitudes)
    {
        Vector128<short> h = Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index);
        magnitudes = Vector128.Max(magnitudes, h.AsUInt16() & Vector128.Create(Magnitude));
        return (Widen(Vector128.WidenLower(h).AsUInt32()), Widen(Vector128.WidenUpper(h).AsUInt32()));
    }

    public static bool IsFinite(Vector128<ushort> magnitudes) => !Vector128.GreaterThanOrEqualAny(magnitudes, Vector128.Create(Infinity));

    public static bool IsFinite(Vector256<ushort> magnitudes) => !Vector256.GreaterThanOrEqualAny(magnitudes, Vector256.Create(Infinity));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Widen(Vector128<uint> v) => ((v << 13) & Vector128.Create(Fields)).AsSingle();
}
