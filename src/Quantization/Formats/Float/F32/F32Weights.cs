using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>F32 weights: loaded as they are.</summary>
internal readonly struct F32Weights : IFloatWeights
{
    public static QuantType WeightType => QuantType.F32;

    public static float ActivationScale => 1;

    public static int ElementBytes => sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ref byte row, nint index) => Unsafe.Add(ref Unsafe.As<byte, float>(ref row), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte row, nint index, ref Vector256<ushort> magnitudes) =>
        Vector512.LoadUnsafe(ref Unsafe.As<byte, float>(ref row), (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte row, nint index, ref Vector128<ushort> magnitudes) =>
        Vector256.LoadUnsafe(ref Unsafe.As<byte, float>(ref row), (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index, ref Vector128<ushort> magnitudes)
    {
        ref float f = ref Unsafe.As<byte, float>(ref row);
        return (Vector128.LoadUnsafe(ref f, (nuint)index), Vector128.LoadUnsafe(ref f, (nuint)index + 4));
    }

    /// <summary>Every value widens exactly: nothing to record.</summary>
    public static bool IsFinite(Vector128<ushort> magnitudes) => true;

    /// <inheritdoc cref="IsFinite(Vector128{ushort})"/>
    public static bool IsFinite(Vector256<ushort> magnitudes) => true;
}
