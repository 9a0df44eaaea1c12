using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_1 weights: the nibble (0..15); the min enters through Q8_1's s.</summary>
internal readonly struct Q4_1Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q4_1;
    public static int BlockBytes => BlockQ4_1.Size;
    public static bool HasMin => true;
    public static bool NonNegative => true;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        LegacyDotCodes.NibbleSumReference(in block, 4, 0, in y);

    // (d_x*d_y)*sumi (+ m_x*s_y, added by the driver)
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    public static int Offset => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) =>
        Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block) =>
        Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 4)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 4), out Vector128<byte> hi);
        high = hi.AsSByte();
        return low.AsSByte();
    }
}
