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

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y)
    {
        ref byte qs = ref Unsafe.Add(ref Unsafe.AsRef(in block), 2);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++)
        {
            int v0 = (Unsafe.Add(ref qs, j) & 0x0F) - 8;
            int v1 = (Unsafe.Add(ref qs, j) >> 4) - 8;
            sumi0 += v0 * Unsafe.Add(ref yr, j);
            sumi1 += v1 * Unsafe.Add(ref yr, j + 16);
        }

        return sumi0 + sumi1;
    }

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
