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

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));
        ref byte qs = ref Unsafe.Add(ref Unsafe.AsRef(in block), 8);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++)
        {
            int xh0 = (int)((qh >> j) << 4) & 0x10;
            int xh1 = (int)(qh >> (j + 12)) & 0x10;
            int x0 = (Unsafe.Add(ref qs, j) & 0x0F) | xh0;
            int x1 = (Unsafe.Add(ref qs, j) >> 4) | xh1;
            sumi0 += x0 * Unsafe.Add(ref yr, j);
            sumi1 += x1 * Unsafe.Add(ref yr, j + 16);
        }

        return sumi0 + sumi1;
    }

    // (d_x*d_y)*sumi (+ m_x*s_y, added by the driver)
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    public static int Offset => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 8));
        return nibbles | Block32Decode.FifthBits256(qh);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 8));
        return (nibbles | (Block32Decode.BitMask256(qh) & Vector256.Create((byte)0x10))).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 8), out Vector128<byte> hi);
        Vector128<byte> bit = Vector128.Create((byte)0x10);
        high = (hi | (Block32Decode.BitMask128(qh >> 16) & bit)).AsSByte();
        return (low | (Block32Decode.BitMask128(qh) & bit)).AsSByte();
    }
}
