using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>BF16 weights: the upper half of a float32, so widening is a 16-bit shift (exact, NaNs kept).</summary>
internal readonly struct BF16Weights : IFloatWeights
{
    public static QuantType WeightType => QuantType.BF16;

    public static float ActivationScale => 1;

    public static int ElementBytes => sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ref byte row, nint index) =>
        BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref Unsafe.As<byte, ushort>(ref row), index) << 16);

    // Sign- or zero-extension does not matter: the shift drops the upper 16 bits either way.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte row, nint index, ref Vector256<ushort> magnitudes) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte row, nint index, ref Vector128<ushort> magnitudes) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref Unsafe.As<byte, short>(ref row), (nuint)index)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index, ref Vector128<ushort> magnitudes)
    {
        Vector128<ushort> v = Vector128.LoadUnsafe(ref Unsafe.As<byte, ushort>(ref row), (nuint)index);
        return ((Vector128.WidenLower(v) << 16).AsSingle(), (Vector128.WidenUpper(v) << 16).AsSingle());
    }

    /// <summary>Every value widens exactly: nothing to record.</summary>
    public static bool IsFinite(Vector128<ushort> magnitudes) => true;

    /// <inheritdoc cref="IsFinite(Vector128{ushort})"/>
    public static bool IsFinite(Vector256<ushort> magnitudes) => true;
}
