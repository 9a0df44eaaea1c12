using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_0 weights: nibble − 8.</summary>
internal readonly struct Q4_0Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q4_0;
    public static int BlockBytes => BlockQ4_0.Size;
    public static bool HasMin => false;
    public static bool NonNegative => false;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        LegacyDotCodes.NibbleSumReference(in block, 2, 8, in y);

    // sumi*d_x*d_y, left to right
    public static float ScaleReference(int sumi, float dx, float dy) => sumi * dx * dy;

    public static int Offset => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) =>
        Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block) =>
        (Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 2)) - Vector256.Create((byte)8)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 2), out Vector128<byte> hi);
        Vector128<byte> eight = Vector128.Create((byte)8);
        high = (hi - eight).AsSByte();
        return (low - eight).AsSByte();
    }
}
