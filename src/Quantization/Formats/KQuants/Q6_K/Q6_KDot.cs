using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q6_K × Q8_K (<c>ggml_vec_dot_q6_K_q8_K</c>): per super-block, s += d·dy·Σ_k sc_k·Σ (q − 32)·q8, exact in int32. The
/// vector paths multiply the unsigned codes (0..63) and subtract 32·Σ_k sc_k·bsum_k, the same integer.
/// </summary>
internal readonly struct Q6_KDot : IKLaneReference<Q6_KDot, BlockQ6_K>, IKScaledBlocks<Q6_KDot, BlockQ6_K>
{
    public static QuantType WeightType => QuantType.Q6_K;

    public static int BlockBytes => BlockQ6_K.Size;

    public static ushort D(in BlockQ6_K x) => x.D;

    public static int SuperBlockSum(in BlockQ6_K x, in BlockQ8_K y) => KDot.ReferenceSums<Q6_KDot, BlockQ6_K>(in x, in y).Sum;

    /// <summary>The generic kernel's integer work for one super-block: lane e % 8 gets sc_{e/16}·(q_e − 32)·q8_e.</summary>
    public static int LaneSums(in BlockQ6_K x, in BlockQ8_K y, Span<int> aux32)
    {
        aux32.Clear();
        for (int e = 0; e < 256; ++e)
        {
            int h = e / 128, k = (e / 32) % 4, l = e % 32;
            int ql = x.Ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2));
            int q = ((ql & 0xF) | (((x.Qh[32 * h + l] >> (2 * k)) & 3) << 4)) - 32;
            aux32[e % 8] += x.Scales[e / 16] * (y.Qs[e] * q);
        }

        return 0; // no min term
    }

    /// <summary>32·Σ_k sc_k·bsum_k in eight int32 lanes: what the unsigned codes add beyond q − 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> OffsetSums(BlockQ6_K* x, BlockQ8_K* y, out Vector256<short> scales16)
    {
        scales16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)&x->Scales));
        Vector256<int> s = Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)&y->Bsums), scales16);
        return Avx2.ShiftLeftLogical(s, 5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockQ6_K* x, BlockQ8_K* y)
    {
        Vector256<int> offset = OffsetSums(x, y, out Vector256<short> scales16);
        Vector256<int> acc = Vector256<int>.Zero, acc2 = Vector256<int>.Zero;

        // Written out per half so that every scale shuffle control is a constant.
        Half256((byte*)&x->Ql, (byte*)&x->Qh, (sbyte*)&y->Qs, KDot.ScaleHalf256(scales16, 0), ref acc, ref acc2);
        Half256((byte*)&x->Ql + 64, (byte*)&x->Qh + 32, (sbyte*)&y->Qs + 128, KDot.ScaleHalf256(scales16, 1), ref acc, ref acc2);
        return acc + acc2 - offset;
    }

    /// <summary>The 128 values of one half (Ql + 64h, Qh + 32h, scales 8h..8h+7 in <paramref name="scales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Half256(byte* ql, byte* qh, sbyte* q8, Vector256<byte> scales, ref Vector256<int> acc, ref Vector256<int> acc2)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        Vector256<byte> bits45 = Vector256.Create((byte)0x30);
        Vector256<byte> a = Avx.LoadVector256(ql);
        Vector256<byte> b = Avx.LoadVector256(ql + 32);
        Vector256<byte> hb = Avx.LoadVector256(qh);
        Vector256<byte> v0 = (a & low4) | (Avx2.ShiftLeftLogical(hb.AsUInt16(), 4).AsByte() & bits45);
        Vector256<byte> v1 = (b & low4) | (Avx2.ShiftLeftLogical(hb.AsUInt16(), 2).AsByte() & bits45);
        Vector256<byte> v2 = (Avx2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & low4) | (hb & bits45);
        Vector256<byte> v3 = (Avx2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & low4) | (Avx2.ShiftRightLogical(hb.AsUInt16(), 2).AsByte() & bits45);
        acc = KDot.MulAdd(acc, v0, Avx.LoadVector256(q8), KDot.ScalePair256(scales, 0));
        acc2 = KDot.MulAdd(acc2, v1, Avx.LoadVector256(q8 + 32), KDot.ScalePair256(scales, 1));
        acc = KDot.MulAdd(acc, v2, Avx.LoadVector256(q8 + 64), KDot.ScalePair256(scales, 2));
        acc2 = KDot.MulAdd(acc2, v3, Avx.LoadVector256(q8 + 96), KDot.ScalePair256(scales, 3));
    }

    /// <summary>One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves, each one sub-block of 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockQ6_K* x, BlockQ8_K* y)
    {
        Vector128<sbyte> scales = Sse2.LoadVector128((sbyte*)&x->Scales);
        Vector128<short> low = KDot.Widen(scales, 0), high = KDot.Widen(scales, 1);
        Vector128<int> offset = Sse2.ShiftLeftLogical(KDot.BsumProducts(y, low, high), 5);
        Vector128<int> acc = Vector128<int>.Zero, acc2 = Vector128<int>.Zero;
        byte* ql = (byte*)&x->Ql;
        byte* qh = (byte*)&x->Qh;
        sbyte* q8 = (sbyte*)&y->Qs;

        // Bytes 0–15 of each 32-byte column of Half256 are the first sub-block of its 32 values, bytes 16–31 the second.
        Quarter128(ql, qh, q8, low, 0, ref acc);
        Quarter128(ql + 16, qh + 16, q8 + 16, low, 1, ref acc2);
        Quarter128(ql + 64, qh + 32, q8 + 128, high, 0, ref acc);
        Quarter128(ql + 80, qh + 48, q8 + 144, high, 1, ref acc2);
        return acc + acc2 - offset;
    }

    /// <summary>
    /// Sixteen code bytes of each of the four columns of one half (<see cref="Half256"/>): byte l of Ql, Ql + 32 and Qh,
    /// for l in 16o..16o+15, giving values 32j + 16o + l of the half, sub-block 2j + o (scales in <paramref name="scales"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Quarter128(byte* ql, byte* qh, sbyte* q8, Vector128<short> scales, [ConstantExpected(Min = 0, Max = 1)] int o, ref Vector128<int> acc)
    {
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> bits45 = Vector128.Create((byte)0x30);
        Vector128<byte> a = Sse2.LoadVector128(ql);
        Vector128<byte> b = Sse2.LoadVector128(ql + 32);
        Vector128<byte> hb = Sse2.LoadVector128(qh);
        Vector128<byte> v0 = (a & low4) | (Sse2.ShiftLeftLogical(hb.AsUInt16(), 4).AsByte() & bits45);
        Vector128<byte> v1 = (b & low4) | (Sse2.ShiftLeftLogical(hb.AsUInt16(), 2).AsByte() & bits45);
        Vector128<byte> v2 = (Sse2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & low4) | (hb & bits45);
        Vector128<byte> v3 = (Sse2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & low4) | (Sse2.ShiftRightLogical(hb.AsUInt16(), 2).AsByte() & bits45);
        acc += KDot.MulAdd(v0, Sse2.LoadVector128(q8), KDot.Broadcast(scales, o));
        acc += KDot.MulAdd(v1, Sse2.LoadVector128(q8 + 32), KDot.Broadcast(scales, 2 + o));
        acc += KDot.MulAdd(v2, Sse2.LoadVector128(q8 + 64), KDot.Broadcast(scales, 4 + o));
        acc += KDot.MulAdd(v3, Sse2.LoadVector128(q8 + 96), KDot.Broadcast(scales, 6 + o));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockQ6_K* x, BlockQ8_K* y)
    {
        Vector256<int> offset = OffsetSums(x, y, out Vector256<short> scales16);
        Vector512<short> sc = scales16.ToVector512Unsafe();

        // 64 bytes of Ql hold columns a (low 32) and b (high 32) of one half; Qh is used twice, shifted per 256-bit half.
        // Low nibbles are values 0..63 of the half, high nibbles 64..127, so each 128-bit lane is one sub-block of 16.
        Vector512<ushort> shiftUp = Vector512.Create(0x0004_0004_0004_0004UL, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004,
                                                     0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002).AsUInt16();
        Vector512<ushort> shiftDown = Vector512.Create(0UL, 0, 0, 0, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0002_0002_0002_0002).AsUInt16();
        Vector512<short> pick = Vector512.Create(0UL, 0, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001,
                                                 0x0002_0002_0002_0002, 0x0002_0002_0002_0002, 0x0003_0003_0003_0003, 0x0003_0003_0003_0003).AsInt16();
        Vector512<short> four = Vector512.Create((short)4);
        Vector512<byte> low4 = Vector512.Create((byte)0x0F);
        Vector512<byte> bits45 = Vector512.Create((byte)0x30);
        byte* ql = (byte*)&x->Ql;
        Vector512<uint> qh = Avx512F.LoadVector512((uint*)&x->Qh);
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector512<int> acc = Vector512<int>.Zero;
        for (int h = 0; h < 2; ++h, ql += 64, q8 += 128)
        {
            Vector512<byte> codes = Avx512BW.LoadVector512(ql);
            Vector512<ushort> high = (h == 0 ? Avx512F.Shuffle4x128(qh, qh, 0b01_00_01_00) : Avx512F.Shuffle4x128(qh, qh, 0b11_10_11_10)).AsUInt16();
            Vector512<byte> v01 = (codes & low4) | (Avx512BW.ShiftLeftLogicalVariable(high, shiftUp).AsByte() & bits45);
            Vector512<byte> v23 = (Avx512BW.ShiftRightLogical(codes.AsUInt16(), 4).AsByte() & low4)
                                  | (Avx512BW.ShiftRightLogicalVariable(high, shiftDown).AsByte() & bits45);
            acc += KDot.MulAdd(v01, Avx512BW.LoadVector512(q8), Avx512BW.PermuteVar32x16(sc, pick));
            pick += four;
            acc += KDot.MulAdd(v23, Avx512BW.LoadVector512(q8 + 64), Avx512BW.PermuteVar32x16(sc, pick));
            pick += four;
        }

        return acc - offset.ToVector512();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockQ6_K x, ref readonly BlockQ8_K y)
    {
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> bits45 = Vector128.Create((byte)0x30);
        ref readonly byte ql0 = ref x.Ql[0];
        ref readonly byte qh0 = ref x.Qh[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int h = 0; h < 2; ++h)
        {
            for (int half = 0; half < 2; ++half)
            {
                // 16 of the 32 columns l of this 128-value half: four sub-blocks of 16 (k = 0..3), scale 8h + 2k + half.
                int o = 16 * half;
                Vector128<byte> a = Vector128.LoadUnsafe(in ql0, (nuint)(64 * h + o));
                Vector128<byte> b = Vector128.LoadUnsafe(in ql0, (nuint)(64 * h + 32 + o));
                Vector128<byte> hb = Vector128.LoadUnsafe(in qh0, (nuint)(32 * h + o));
                Vector128<byte> v0 = (a & low4) | (AdvSimd.ShiftLeftLogical(hb, 4) & bits45);
                Vector128<byte> v1 = (b & low4) | (AdvSimd.ShiftLeftLogical(hb, 2) & bits45);
                Vector128<byte> v2 = AdvSimd.ShiftRightLogical(a, 4) | (hb & bits45);
                Vector128<byte> v3 = AdvSimd.ShiftRightLogical(b, 4) | (AdvSimd.ShiftRightLogical(hb, 2) & bits45);
                int e = 128 * h + o;
                sum += x.Scales[8 * h + half] * Dot16(v0, in q8, e)
                     + x.Scales[8 * h + 2 + half] * Dot16(v1, in q8, e + 32)
                     + x.Scales[8 * h + 4 + half] * Dot16(v2, in q8, e + 64)
                     + x.Scales[8 * h + 6 + half] * Dot16(v3, in q8, e + 96);
            }
        }

        // The codes above are unsigned (0..63): subtract 32·Σ_k sc_k·bsum_k.
        ref readonly short bs = ref y.Bsums[0];
        Vector128<short> sc = AdvSimd.SignExtendWideningLower(Vector64.LoadUnsafe(in x.Scales[0]));
        Vector128<short> sc2 = AdvSimd.SignExtendWideningLower(Vector64.LoadUnsafe(in x.Scales[8]));
        Vector128<int> p = AdvSimd.MultiplyWideningLower(Vector128.LoadUnsafe(in bs).GetLower(), sc.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs), sc);
        p = AdvSimd.MultiplyWideningLowerAndAdd(p, Vector128.LoadUnsafe(in bs, 8).GetLower(), sc2.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs, 8), sc2);
        return sum - 32 * AdvSimd.Arm64.AddAcross(p).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Dot16(Vector128<byte> codes, ref readonly sbyte q8, int e) =>
        AdvSimd.Arm64.AddAcross(KDot.Dot4(Vector128<int>.Zero, codes.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)e))).ToScalar();
}
