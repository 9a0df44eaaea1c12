using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels.Dot;

/// <summary>
/// The weight side of a 32-value block format in a dot product with Q8_0 (type-0 formats) or Q8_1 (type-1 formats,
/// <see cref="HasMin"/>): how a block's 32 integer codes are decoded to signed bytes, and ggml's generic block formula.
/// <see cref="Block32Dot{TWeights}"/> runs every instruction-set path over it.
/// </summary>
internal interface IBlock32Weights
{
    /// <summary>The weight format.</summary>
    static abstract QuantType WeightType { get; }

    /// <summary>Bytes per block; the scale d is the first field (FP16 unless <see cref="WeightScale"/> says otherwise), the FP16 min m the second when <see cref="HasMin"/>.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>The block's scale d as a float: by default the FP16 first field; a format with another scale encoding (MXFP4's E8M0 byte) reads its own.</summary>
    static virtual float WeightScale(ref readonly byte block) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(in block));

    /// <summary>w = d·q + m: the activations are Q8_1 and each block adds m·s (s = d_y·Σq_y, stored in Q8_1).</summary>
    static abstract bool HasMin { get; }

    /// <summary>
    /// Whether the <see cref="DotPath.Avx512"/> path runs the AVX2 lanes (256-bit, the sign trick) instead of widening
    /// to 16 bits at 512: a format sets it where that was measured faster (MXFP4 on AMD Zen 4, whose 512-bit
    /// operations take two cycles).
    /// </summary>
    static virtual bool Avx2LanesOnAvx512 => false;

    /// <summary>The decoded codes are never negative, so the unsigned×signed multiply takes them without the sign trick.</summary>
    static abstract bool NonNegative { get; }

    /// <summary>Σ q[j]·y[j] over the block in ggml's generic order (<c>sumi0 + sumi1</c>).</summary>
    static abstract int IntegerSumReference(ref readonly byte block, ref readonly sbyte y);

    /// <summary>ggml's generic float term of one block (without the m·s term of type-1 formats).</summary>
    static abstract float ScaleReference(int sumi, float dx, float dy);

    /// <summary>
    /// The bias of <see cref="DecodeUnsigned256"/>: code = unsigned byte − Offset. 0, 8 or 16 for 4- and 5-bit codes
    /// (unsigned bytes ≤ 31), 128 for codes that span the signed byte range.
    /// </summary>
    static abstract int Offset { get; }

    /// <summary>The 32 codes plus <see cref="Offset"/>, as unsigned bytes in element order (needs AVX2): the u8 operand of VNNI.</summary>
    static abstract Vector256<byte> DecodeUnsigned256(ref readonly byte block);

    /// <summary>The 32 codes as signed bytes in element order (needs AVX2).</summary>
    static abstract Vector256<sbyte> Decode256(ref readonly byte block);

    /// <summary>The 32 codes as signed bytes in element order, as two halves (elements 0..15 and 16..31).</summary>
    static abstract Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high);
}

/// <summary>Decoding steps shared by the 32-value formats.</summary>
internal static class Block32Decode
{
    /// <summary>
    /// ggml's generic sum of a 16-entry table format (IQ4_NL, MXFP4): Σ y[j]·values[low nibble j] + Σ y[j+16]·values[high
    /// nibble j] over the 16 bytes at <paramref name="qs"/>, in its two partial sums.
    /// </summary>
    public static int TableSumReference(ReadOnlySpan<sbyte> values, ref readonly byte qs, ref readonly sbyte y)
    {
        int sumi1 = 0, sumi2 = 0;
        for (int j = 0; j < 16; j++)
        {
            byte code = Unsafe.Add(ref Unsafe.AsRef(in qs), j);
            sumi1 += Unsafe.Add(ref Unsafe.AsRef(in y), j) * values[code & 0x0F];
            sumi2 += Unsafe.Add(ref Unsafe.AsRef(in y), j + 16) * values[code >> 4];
        }

        return sumi1 + sumi2;
    }

    /// <summary>Elements 0..15 (low nibbles) and 16..31 (high nibbles) of 16 packed bytes, as 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles256(ref readonly byte qs)
    {
        Vector128<byte> packed = Vector128.LoadUnsafe(in qs);
        return Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F);
    }

    /// <summary>Elements 0..15 (low nibbles) and, in <paramref name="high"/>, 16..31 (high nibbles), as 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Nibbles128(ref readonly byte qs, out Vector128<byte> high)
    {
        Vector128<byte> packed = Vector128.LoadUnsafe(in qs);
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        high = Vector128.ShiftRightLogical(packed, 4) & mask;
        return packed & mask;
    }

    /// <summary>0xFF in byte j where bit j of <paramref name="bits"/> is set (AVX2; Q5's fifth bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> BitMask256(uint bits)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> select = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & select, select);
    }

    /// <summary>
    /// 0x10 in byte j where bit j of <paramref name="bits"/> is set, else 0 (needs AVX2; Q5's fifth bits in place). With
    /// GFNI one affine transform per qword does it: qword q carries byte q of the bits as row 3 of its bit matrix, so
    /// bit 4 of output byte b is parity(bits byte q AND 1 &lt;&lt; b), i.e. bit b of that byte.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> FifthBits256(uint bits)
    {
        if (Gfni.V256.IsSupported)
        {
            Vector256<byte> matrices = Vector256.ShiftLeft(Avx2.ConvertToVector256Int64(Vector128.CreateScalarUnsafe(bits).AsByte()), 24).AsByte();
            return Gfni.V256.GaloisFieldAffineTransform(Vector256.Create(0x8040201008040201UL).AsByte(), matrices, 0);
        }

        return BitMask256(bits) & Vector256.Create((byte)0x10);
    }

    /// <summary>0xFF in byte j where bit j of the 16-bit <paramref name="bits"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> BitMask128(uint bits)
    {
        Vector128<byte> spread = Vector128.Shuffle(Vector128.CreateScalarUnsafe((ushort)bits).AsByte(),
            Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        Vector128<byte> select = Vector128.Create(0x8040201008040201UL).AsByte();
        return Vector128.Equals(spread & select, select);
    }
}
