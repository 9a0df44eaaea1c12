using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// The code decoding the 4- and 5-bit legacy weights (<see cref="Q4_0Weights"/>, <see cref="Q4_1Weights"/>,
/// <see cref="Q5_0Weights"/>, <see cref="Q5_1Weights"/>) have in common. Each block ends in 16 nibble bytes (low nibble =
/// element j, high nibble = element j + 16); a 5-bit block has its 32 fifth bits as a uint just before them. The formats
/// differ only in those offsets and in the bias subtracted from a code, so they pass them as constants.
/// </summary>
internal static class LegacyDotCodes
{
    /// <summary>
    /// Σ (nibble − <paramref name="bias"/>)·y over one block whose nibbles start at <paramref name="qsOffset"/>, in ggml's
    /// generic order (<c>sumi0 + sumi1</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NibbleSumReference(ref readonly byte block, int qsOffset, int bias, ref readonly sbyte y)
    {
        ref byte qs = ref Unsafe.Add(ref Unsafe.AsRef(in block), qsOffset);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++)
        {
            int v0 = (Unsafe.Add(ref qs, j) & 0x0F) - bias;
            int v1 = (Unsafe.Add(ref qs, j) >> 4) - bias;
            sumi0 += v0 * Unsafe.Add(ref yr, j);
            sumi1 += v1 * Unsafe.Add(ref yr, j + 16);
        }

        return sumi0 + sumi1;
    }

    /// <summary>
    /// Σ ((nibble | fifth bit·16) − <paramref name="bias"/>)·y over one 5-bit block whose fifth bits start at
    /// <paramref name="qhOffset"/>, in ggml's generic order. (ggml's Q5_0 and Q5_1 loops move the fifth bit into place
    /// in two ways that give the same integers.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FifthBitSumReference(ref readonly byte block, int qhOffset, int bias, ref readonly sbyte y)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset));
        ref byte qs = ref Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset + 4);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; j++)
        {
            int xh0 = (int)((qh >> j) & 1) << 4;
            int xh1 = (int)((qh >> (j + 16)) & 1) << 4;
            int x0 = ((Unsafe.Add(ref qs, j) & 0x0F) | xh0) - bias;
            int x1 = ((Unsafe.Add(ref qs, j) >> 4) | xh1) - bias;
            sumi0 += x0 * Unsafe.Add(ref yr, j);
            sumi1 += x1 * Unsafe.Add(ref yr, j + 16);
        }

        return sumi0 + sumi1;
    }

    /// <summary>The 32 unsigned 5-bit codes (nibble | fifth bit·16) of a block whose fifth bits start at <paramref name="qhOffset"/> (needs AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBitCodes256(ref readonly byte block, int qhOffset)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset + 4));
        return nibbles | Block32Decode.FifthBits256(qh);
    }

    /// <summary>The 32 nibbles of a 5-bit block and, in <paramref name="fifthBits"/>, 0xFF where the fifth bit is set (needs AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBitNibbles256(ref readonly byte block, int qhOffset, out Vector256<byte> fifthBits)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset));
        Vector256<byte> nibbles = Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset + 4));
        fifthBits = Block32Decode.BitMask256(qh);
        return nibbles;
    }

    /// <summary>
    /// The nibbles of elements 0..15 of a 5-bit block and 0xFF where their fifth bit is set (<paramref name="lowBits"/>);
    /// the same for elements 16..31 in <paramref name="high"/> and <paramref name="highBits"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> FifthBitNibbles128(ref readonly byte block, int qhOffset, out Vector128<byte> lowBits,
                                                     out Vector128<byte> high, out Vector128<byte> highBits)
    {
        uint qh = Unsafe.ReadUnaligned<uint>(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset));
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), qhOffset + 4), out high);
        highBits = Block32Decode.BitMask128(qh >> 16);
        lowBits = Block32Decode.BitMask128(qh);
        return low;
    }
}
