using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q5_1 weights: nibble | fifth bit·16 (0..31); the min enters through Q8_1's s.</summary>
internal readonly struct Q5_1Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q5_1;
    public static int BlockBytes => BlockQ5_1.Size;
    public static bool HasMin => true;
    public static bool NonNegative => true;

    /// <summary>The fifth bits at byte 4, the nibbles after them.</summary>
    private const int QhOffset = 4;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        LegacyDotCodes.FifthBitSumReference(in block, QhOffset, 0, in y);

    // (d_x*d_y)*sumi (+ m_x*s_y, added by the driver)
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    public static int Offset => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) => LegacyDotCodes.FifthBitCodes256(in block, QhOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block)
    {
        Vector256<byte> nibbles = LegacyDotCodes.FifthBitNibbles256(in block, QhOffset, out Vector256<byte> fifth);
        return (nibbles | (fifth & Vector256.Create((byte)0x10))).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = LegacyDotCodes.FifthBitNibbles128(in block, QhOffset, out Vector128<byte> lowFifth, out Vector128<byte> hi, out Vector128<byte> highFifth);
        Vector128<byte> bit = Vector128.Create((byte)0x10);
        high = (hi | (highFifth & bit)).AsSByte();
        return (low | (lowFifth & bit)).AsSByte();
    }
}
