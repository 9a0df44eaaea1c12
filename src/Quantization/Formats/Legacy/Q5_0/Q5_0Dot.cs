using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q5_0 weights: (nibble | fifth bit·16) − 16.</summary>
internal readonly struct Q5_0Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q5_0;
    public static int BlockBytes => BlockQ5_0.Size;
    public static bool HasMin => false;
    public static bool NonNegative => false;

    /// <summary>The fifth bits at byte 2, the nibbles after them.</summary>
    private const int QhOffset = 2;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        LegacyDotCodes.FifthBitSumReference(in block, QhOffset, 16, in y);

    // (d_x*d_y)*sumi
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    /// <summary>A clear fifth bit sets the high nibble (0xF0): the byte is then the two's complement of nibble − 16.</summary>
    public static int Offset => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) => LegacyDotCodes.FifthBitCodes256(in block, QhOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block)
    {
        Vector256<byte> nibbles = LegacyDotCodes.FifthBitNibbles256(in block, QhOffset, out Vector256<byte> fifth);
        return (nibbles | Vector256.AndNot(Vector256.Create((byte)0xF0), fifth)).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = LegacyDotCodes.FifthBitNibbles128(in block, QhOffset, out Vector128<byte> lowFifth, out Vector128<byte> hi, out Vector128<byte> highFifth);
        Vector128<byte> f0 = Vector128.Create((byte)0xF0);
        high = (hi | Vector128.AndNot(f0, highFifth)).AsSByte();
        return (low | Vector128.AndNot(f0, lowFifth)).AsSByte();
    }
}
