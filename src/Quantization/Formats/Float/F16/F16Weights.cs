using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>
/// F16 weights, widened exactly with integer operations and one multiplication (.NET exposes no <c>vcvtph2ps</c> /
/// <c>fcvtl</c>): the half sign-extended to 32 bits and shifted left by 13 puts its exponent and mantissa in the
/// float32 fields with the sign in bit 31 (and copies of it in bits 28–30, masked off); that float32 is the half's
/// value times 2⁻¹¹², so a multiplication by 2¹¹² (a power of two: exact, and it makes F16 subnormals normal) gives the
/// value. Infinities and NaNs (half exponent 31) then have exponent 143 and get the all-ones exponent ORed in.
/// </summary>
internal readonly struct F16Weights : IFloatWeights
{
    /// <summary>2¹¹²: the difference of the float32 and float16 exponent biases (127 − 15).</summary>
    private const float Rebias = 5.192296858534828e33f;

    /// <summary>Sign, exponent and mantissa of the shifted half; bits 28–30 hold copies of the sign.</summary>
    private const uint Fields = 0x8FFF_FFFF;

    /// <summary>The half's exponent field in the shifted value.</summary>
    private const uint HalfExponent = 0x0F80_0000;

    private const uint SingleExponent = 0x7F80_0000;

    public static QuantType WeightType => QuantType.F16;

    public static int ElementBytes => sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ref byte row, nint index) => Kernels.Fp16.ToSingle(Unsafe.Add(ref Unsafe.As<byte, ushort>(ref row), index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte row, nint index)
    {
        Vector512<uint> v = Avx512F.ConvertToVector512Int32(Vector256.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index)).AsUInt32();
        v = (v << 13) & Vector512.Create(Fields);
        Vector512<float> f = v.AsSingle() * Vector512.Create(Rebias);
        Vector512<uint> special = Vector512.Equals(v & Vector512.Create(HalfExponent), Vector512.Create(HalfExponent));
        return f | (special & Vector512.Create(SingleExponent)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte row, nint index)
    {
        Vector256<uint> v = Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index)).AsUInt32();
        v = (v << 13) & Vector256.Create(Fields);
        Vector256<float> f = v.AsSingle() * Vector256.Create(Rebias);
        Vector256<uint> special = Vector256.Equals(v & Vector256.Create(HalfExponent), Vector256.Create(HalfExponent));
        return f | (special & Vector256.Create(SingleExponent)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index)
    {
        Vector128<short> v = Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index);
        return (Widen(Vector128.WidenLower(v).AsUInt32()), Widen(Vector128.WidenUpper(v).AsUInt32()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Widen(Vector128<uint> v)
    {
        v = (v << 13) & Vector128.Create(Fields);
        Vector128<float> f = v.AsSingle() * Vector128.Create(Rebias);
        Vector128<uint> special = Vector128.Equals(v & Vector128.Create(HalfExponent), Vector128.Create(HalfExponent));
        return f | (special & Vector128.Create(SingleExponent)).AsSingle();
    }
}
