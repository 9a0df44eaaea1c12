using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q3_K × Q8_K (<c>ggml_vec_dot_q3_K_q8_K</c>): per super-block, s += d·dy·Σ_k (u_k − 32)·Σ q·q8 with q in −4..3, exact
/// in int32. The vector paths multiply the unsigned codes q + 4 (0..7) and subtract 4·Σ_k (u_k − 32)·bsum_k.
/// </summary>
internal readonly struct Q3_KDot : IKLaneReference<Q3_KDot, BlockQ3_K>, IKScaledBlocks<Q3_KDot, BlockQ3_K>
{
    public static QuantType WeightType => QuantType.Q3_K;

    public static int BlockBytes => BlockQ3_K.Size;

    public static ushort D(in BlockQ3_K x) => x.D;

    public static int SuperBlockSum(in BlockQ3_K x, in BlockQ8_K y) => KDot.ReferenceSums<Q3_KDot, BlockQ3_K>(in x, in y).Sum;

    /// <summary>The generic kernel's integer work for one super-block: lane e % 8 gets (u_k − 32)·q_e·q8_e.</summary>
    public static int LaneSums(in BlockQ3_K x, in BlockQ8_K y, Span<int> aux32)
    {
        aux32.Clear();
        ReadOnlySpan<byte> scales = x.Scales;
        for (int e = 0; e < 256; ++e)
        {
            int h = e / 128, s = (e / 32) % 4, l = e % 32;
            int q = ((x.Qs[32 * h + l] >> (2 * s)) & 3) - ((x.Hmask[l] >> (e / 32) & 1) != 0 ? 0 : 4);
            aux32[e % 8] += BlockQ3_K.GetScale(scales, e / 16) * (y.Qs[e] * q);
        }

        return 0; // no min term
    }

    /// <summary>
    /// The sixteen signed scales u_k − 32 at once (what <see cref="BlockQ3_K.GetScale"/> returns per k), with ggml's
    /// four 32-bit word operations: low nibbles from words 0–1, high two bits from word 2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<sbyte> UnpackScales(ref readonly Bytes12 packed)
    {
        ref byte p = ref Unsafe.As<Bytes12, byte>(ref Unsafe.AsRef(in packed));
        uint w0 = Unsafe.ReadUnaligned<uint>(ref p);
        uint w1 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 4));
        uint hi = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 8));
        uint s0 = (w0 & 0x0F0F0F0F) | ((hi & 0x03030303) << 4);
        uint s1 = (w1 & 0x0F0F0F0F) | (((hi >> 2) & 0x03030303) << 4);
        uint s2 = ((w0 >> 4) & 0x0F0F0F0F) | (((hi >> 4) & 0x03030303) << 4);
        uint s3 = ((w1 >> 4) & 0x0F0F0F0F) | (((hi >> 6) & 0x03030303) << 4);
        return Vector128.Create(s0 | ((ulong)s1 << 32), s2 | ((ulong)s3 << 32)).AsSByte() - Vector128.Create((sbyte)32);
    }

    /// <summary>4·Σ_k (u_k − 32)·bsum_k in eight int32 lanes: what the unsigned codes q + 4 add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> OffsetSums(BlockQ3_K* x, BlockQ8_K* y, out Vector128<sbyte> scales, out Vector256<short> scales16)
    {
        scales = UnpackScales(in x->Scales);
        scales16 = Avx2.ConvertToVector256Int16(scales);
        Vector256<int> s = Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)&y->Bsums), scales16);
        return Avx2.ShiftLeftLogical(s, 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockQ3_K* x, BlockQ8_K* y)
    {
        Vector256<int> offset = OffsetSums(x, y, out _, out Vector256<short> scales16);

        // Values 32j..32j+31 take bit j of Hmask: shifted right by one per 32 values, moved to bit 2 (the +4). Written
        // out per 32 values so that every scale shuffle control is a constant.
        Vector256<ushort> hbits = Avx.LoadVector256((ushort*)&x->Hmask);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<int> acc = Vector256<int>.Zero, acc2 = Vector256<int>.Zero;
        Half256(qs, q8, KDot.ScaleHalf256(scales16, 0), ref hbits, ref acc, ref acc2);
        Half256(qs + 32, q8 + 128, KDot.ScaleHalf256(scales16, 1), ref hbits, ref acc, ref acc2);
        return acc + acc2 - offset;
    }

    /// <summary>The 128 values of one half: 32 code bytes, four 2-bit fields each, and the next four Hmask bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Half256(byte* qs, sbyte* q8, Vector256<byte> scales, ref Vector256<ushort> hbits, ref Vector256<int> acc, ref Vector256<int> acc2)
    {
        Vector256<ushort> q2 = Avx.LoadVector256((ushort*)qs);
        acc = KDot.MulAdd(acc, Codes(q2, hbits), Avx.LoadVector256(q8), KDot.ScalePair256(scales, 0));
        acc2 = KDot.MulAdd(acc2, Codes(Avx2.ShiftRightLogical(q2, 2), Avx2.ShiftRightLogical(hbits, 1)), Avx.LoadVector256(q8 + 32), KDot.ScalePair256(scales, 1));
        acc = KDot.MulAdd(acc, Codes(Avx2.ShiftRightLogical(q2, 4), Avx2.ShiftRightLogical(hbits, 2)), Avx.LoadVector256(q8 + 64), KDot.ScalePair256(scales, 2));
        acc2 = KDot.MulAdd(acc2, Codes(Avx2.ShiftRightLogical(q2, 6), Avx2.ShiftRightLogical(hbits, 3)), Avx.LoadVector256(q8 + 96), KDot.ScalePair256(scales, 3));
        hbits = Avx2.ShiftRightLogical(hbits, 4);
    }

    /// <summary>Unsigned codes q + 4 (0..7): the low two bits of each byte of <paramref name="q2"/>, bit 0 of <paramref name="hbits"/> as bit 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Codes(Vector256<ushort> q2, Vector256<ushort> hbits) =>
        (q2.AsByte() & Vector256.Create((byte)3)) | (Avx2.ShiftLeftLogical(hbits, 2).AsByte() & Vector256.Create((byte)4));

    /// <summary>One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves, each one sub-block of 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockQ3_K* x, BlockQ8_K* y)
    {
        Vector128<sbyte> scales = UnpackScales(in x->Scales);
        Vector128<short> low = KDot.Widen(scales, 0), high = KDot.Widen(scales, 1);
        Vector128<int> offset = Sse2.ShiftLeftLogical(KDot.BsumProducts(y, low, high), 2);
        Vector128<ushort> ha = Sse2.LoadVector128((ushort*)&x->Hmask);
        Vector128<ushort> hb = Sse2.LoadVector128((ushort*)&x->Hmask + 8);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> acc = Vector128<int>.Zero, acc2 = Vector128<int>.Zero;
        Half128(qs, q8, low, ref ha, ref hb, ref acc, ref acc2);
        Half128(qs + 32, q8 + 128, high, ref ha, ref hb, ref acc, ref acc2);
        return acc + acc2 - offset;
    }

    /// <summary>The 128 values of one half: code bytes 0–15 and 16–31, four 2-bit fields each, and the next four bits of Hmask bytes 0–15 and 16–31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Half128(byte* qs, sbyte* q8, Vector128<short> scales, ref Vector128<ushort> ha, ref Vector128<ushort> hb, ref Vector128<int> acc, ref Vector128<int> acc2)
    {
        Vector128<ushort> a = Sse2.LoadVector128((ushort*)qs);
        Vector128<ushort> b = Sse2.LoadVector128((ushort*)(qs + 16));
        acc += KDot.MulAdd(Codes(a, ha), Sse2.LoadVector128(q8), KDot.Broadcast(scales, 0));
        acc2 += KDot.MulAdd(Codes(b, hb), Sse2.LoadVector128(q8 + 16), KDot.Broadcast(scales, 1));
        acc += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(a, 2), Sse2.ShiftRightLogical(ha, 1)), Sse2.LoadVector128(q8 + 32), KDot.Broadcast(scales, 2));
        acc2 += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(b, 2), Sse2.ShiftRightLogical(hb, 1)), Sse2.LoadVector128(q8 + 48), KDot.Broadcast(scales, 3));
        acc += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(a, 4), Sse2.ShiftRightLogical(ha, 2)), Sse2.LoadVector128(q8 + 64), KDot.Broadcast(scales, 4));
        acc2 += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(b, 4), Sse2.ShiftRightLogical(hb, 2)), Sse2.LoadVector128(q8 + 80), KDot.Broadcast(scales, 5));
        acc += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(a, 6), Sse2.ShiftRightLogical(ha, 3)), Sse2.LoadVector128(q8 + 96), KDot.Broadcast(scales, 6));
        acc2 += KDot.MulAdd(Codes(Sse2.ShiftRightLogical(b, 6), Sse2.ShiftRightLogical(hb, 3)), Sse2.LoadVector128(q8 + 112), KDot.Broadcast(scales, 7));
        ha = Sse2.ShiftRightLogical(ha, 4);
        hb = Sse2.ShiftRightLogical(hb, 4);
    }

    /// <summary><see cref="Codes(Vector256{ushort}, Vector256{ushort})"/> on 16 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Codes(Vector128<ushort> q2, Vector128<ushort> hbits) =>
        (q2.AsByte() & Vector128.Create((byte)3)) | (Sse2.ShiftLeftLogical(hbits, 2).AsByte() & Vector128.Create((byte)4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockQ3_K* x, BlockQ8_K* y)
    {
        Vector256<int> offset = OffsetSums(x, y, out Vector128<sbyte> scales, out _);
        Vector512<short> sc = Avx2.ConvertToVector256Int16(scales).ToVector512Unsafe();

        // As Q2_K's AVX-512 path for the low bits; Hmask twice, the high half shifted by one, so that each step of 64
        // values finds its two bits (j and j+1) at bit 0.
        Vector512<ushort> twoUp = Vector512.Create(0UL, 0, 0, 0, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002).AsUInt16();
        Vector512<ushort> oneUp = Vector512.Create(0UL, 0, 0, 0, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001).AsUInt16();
        Vector512<short> pick = Vector512.Create(0UL, 0, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001,
                                                 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0003_0003_0003_0003, 0x0003_0003_0003_0003).AsInt16();
        Vector512<short> fourLanes = Vector512.Create((short)4);
        Vector512<byte> three = Vector512.Create((byte)3);
        Vector512<byte> four = Vector512.Create((byte)4);
        Vector256<ushort> hm = Avx.LoadVector256((ushort*)&x->Hmask);
        Vector512<ushort> hbits = Avx512BW.ShiftRightLogicalVariable(Avx512F.InsertVector256(hm.ToVector512Unsafe(), hm, 1), oneUp);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector512<int> acc = Vector512<int>.Zero;
        for (int h = 0; h < 2; ++h, qs += 32, q8 += 128)
        {
            Vector256<ushort> half = Avx.LoadVector256((ushort*)qs);
            Vector512<ushort> q2 = Avx512BW.ShiftRightLogicalVariable(Avx512F.InsertVector256(half.ToVector512Unsafe(), half, 1), twoUp);
            for (int p = 0; p < 2; ++p)
            {
                Vector512<byte> u = (q2.AsByte() & three) | (Avx512BW.ShiftLeftLogical(hbits, 2).AsByte() & four);
                acc += KDot.MulAdd(u, Avx512BW.LoadVector512(q8 + 64 * p), Avx512BW.PermuteVar32x16(sc, pick));
                pick += fourLanes;
                q2 = Avx512BW.ShiftRightLogical(q2, 4);
                hbits = Avx512BW.ShiftRightLogical(hbits, 2);
            }
        }

        return acc - offset.ToVector512();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockQ3_K x, ref readonly BlockQ8_K y)
    {
        Vector128<sbyte> scales = UnpackScales(in x.Scales);
        Vector128<byte> three = Vector128.Create((byte)3);
        Vector128<byte> one = Vector128.Create((byte)1);
        ref readonly sbyte q8 = ref y.Qs[0];
        Vector128<byte> ha = Vector128.LoadUnsafe(in x.Hmask[0]);
        Vector128<byte> hb = Vector128.LoadUnsafe(in x.Hmask[0], 16);
        int sum = 0;
        for (int h = 0; h < 2; ++h)
        {
            Vector128<byte> a = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(32 * h));
            Vector128<byte> b = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(32 * h + 16));
            for (int s = 0; s < 4; ++s)
            {
                int e = 128 * h + 32 * s;
                Vector128<byte> ua = (a & three) | AdvSimd.ShiftLeftLogical(ha & one, 2);
                Vector128<byte> ub = (b & three) | AdvSimd.ShiftLeftLogical(hb & one, 2);
                sum += scales.GetElement(e / 16) * Dot16(ua, in q8, e) + scales.GetElement(e / 16 + 1) * Dot16(ub, in q8, e + 16);
                a = AdvSimd.ShiftRightLogical(a, 2);
                b = AdvSimd.ShiftRightLogical(b, 2);
                ha = AdvSimd.ShiftRightLogical(ha, 1);
                hb = AdvSimd.ShiftRightLogical(hb, 1);
            }
        }

        // The codes above are q + 4: subtract 4·Σ_k sc_k·bsum_k.
        ref readonly short bs = ref y.Bsums[0];
        Vector128<short> sc = AdvSimd.SignExtendWideningLower(scales.GetLower());
        Vector128<short> sc2 = AdvSimd.SignExtendWideningUpper(scales);
        Vector128<int> p = AdvSimd.MultiplyWideningLower(Vector128.LoadUnsafe(in bs).GetLower(), sc.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs), sc);
        p = AdvSimd.MultiplyWideningLowerAndAdd(p, Vector128.LoadUnsafe(in bs, 8).GetLower(), sc2.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs, 8), sc2);
        return sum - 4 * AdvSimd.Arm64.AddAcross(p).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Dot16(Vector128<byte> codes, ref readonly sbyte q8, int e) =>
        AdvSimd.Arm64.AddAcross(KDot.Dot4(Vector128<int>.Zero, codes.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)e))).ToScalar();
}
