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

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 2));
        ref byte qs = ref Unsafe.Add(ref Unsafe.AsRef(in block), 6);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++)
        {
            int xh0 = (int)((qh >> j) & 1) << 4;
            int xh1 = (int)((qh >> (j + 16)) & 1) << 4;
            int x0 = ((Unsafe.Add(ref qs, j) & 0x0F) | xh0) - 16;
            int x1 = ((Unsafe.Add(ref qs, j) >> 4) | xh1) - 16;
            sumi0 += x0 * Unsafe.Add(ref yr, j);
            sumi1 += x1 * Unsafe.Add(ref yr, j + 16);
        }

        return sumi0 + sumi1;
    }

    // (d_x*d_y)*sumi
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    /// <summary>A clear fifth bit sets the high nibble (0xF0): the byte is then the two's complement of nibble − 16.</summary>
    public static int Offset => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 2));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 6));
        return nibbles | Block32Decode.FifthBits256(qh);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 2));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 6));
        return (nibbles | Vector256.AndNot(Vector256.Create((byte)0xF0), Block32Decode.BitMask256(qh))).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), 2));
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 6), out Vector128<byte> hi);
        Vector128<byte> f0 = Vector128.Create((byte)0xF0);
        high = (hi | Vector128.AndNot(f0, Block32Decode.BitMask128(qh >> 16))).AsSByte();
        return (low | Vector128.AndNot(f0, Block32Decode.BitMask128(qh))).AsSByte();
    }
}
