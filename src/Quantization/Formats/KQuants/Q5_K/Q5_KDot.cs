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
/// Q5_K × Q8_K (<c>ggml_vec_dot_q5_K_q8_K</c>): Q4_K's formula with five-bit codes (0..31): per super-block,
/// s += d·dy·Σ_j sc_j·Σ q·q8 − dmin·dy·Σ_j m_j·bsum_j, both sums exact in int32.
/// </summary>
internal readonly struct Q5_KDot : IKLaneReference<Q5_KDot, BlockQ5_K>, IKMinBlocks4<BlockQ5_K>
{
    public static QuantType WeightType => QuantType.Q5_K;

    public static int BlockBytes => BlockQ5_K.Size;

    public static bool HasMin => true;

    public static ushort D(in BlockQ5_K x) => x.D;

    public static ushort DMin(in BlockQ5_K x) => x.DMin;

    /// <summary>The generic kernel's integer work for one super-block: lane e % 8 gets sc·q·q8 of element e; returns Σ m·bsum.</summary>
    public static int LaneSums(in BlockQ5_K x, in BlockQ8_K y, Span<int> aux32)
    {
        aux32.Clear();
        ReadOnlySpan<byte> scales = x.Scales;
        int mins = 0;
        for (int j = 0; j < 16; ++j)
        {
            KScales.Get(j / 2, scales, out _, out int m);
            mins += y.Bsums[j] * m;
        }

        for (int e = 0; e < 256; ++e)
        {
            int c = e / 64, h = (e / 32) % 2, l = e % 32;
            int q = ((x.Qs[32 * c + l] >> (4 * h)) & 0xF) | (((x.Qh[l] >> (2 * c + h)) & 1) << 4);
            KScales.Get(e / 32, scales, out int sc, out _);
            aux32[e % 8] += sc * (y.Qs[e] * q);
        }

        return mins;
    }

    /// <summary>Super-block <paramref name="i"/>'s (Σ sc·q·q8, Σ m·bsum) as computed by <paramref name="path"/>.</summary>
    internal static (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i) =>
        KDot.MinSuperBlockSums<Q5_KDot, BlockQ5_K>(path, weights, activations, i);

    public static unsafe float Dot128(BlockQ5_K* x, BlockQ8_K* y, int nb) => KDot.MinDot128<Q5_KDot, BlockQ5_K>(x, y, nb);

    public static unsafe float Dot256(BlockQ5_K* x, BlockQ8_K* y, int nb) => KDot.MinDot256<Q5_KDot, BlockQ5_K>(x, y, nb);

    public static unsafe float Dot512(BlockQ5_K* x, BlockQ8_K* y, int nb) => KDot.MinDot512<Q5_KDot, BlockQ5_K>(x, y, nb);

    public static float DotNeon(ref readonly BlockQ5_K x, ref readonly BlockQ8_K y, int nb) => KDot.MinDotNeon<Q5_KDot, BlockQ5_K>(in x, in y, nb);

    /// <summary>
    /// One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves (Qh bytes 0–15 and 16–31 beside code
    /// bytes 0–15 and 16–31 of each chunk). Both halves of a sub-block share its scale, so their int16 pair sums
    /// (≤ 2·2·31·127) are added before the scale multiply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockQ5_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x->Scales);
        mins = Q4_KDot.MinSums(y, sm);
        Vector128<short> sc = Sse41.ConvertToVector128Int16(sm);
        Vector128<ushort> ha = Sse2.LoadVector128((ushort*)&x->Qh);
        Vector128<ushort> hb = Sse2.LoadVector128((ushort*)&x->Qh + 8);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> lo = Vector128<int>.Zero, hi = Vector128<int>.Zero;
        Chunk128(qs, q8, sc, ref ha, ref hb, ref lo, ref hi, 0);
        Chunk128(qs, q8, sc, ref ha, ref hb, ref lo, ref hi, 1);
        Chunk128(qs, q8, sc, ref ha, ref hb, ref lo, ref hi, 2);
        Chunk128(qs, q8, sc, ref ha, ref hb, ref lo, ref hi, 3);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Chunk128(byte* qs, sbyte* q8, Vector128<short> scales, ref Vector128<ushort> ha, ref Vector128<ushort> hb,
                                        ref Vector128<int> lo, ref Vector128<int> hi, [ConstantExpected(Min = 0, Max = 3)] int c)
    {
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> bit4 = Vector128.Create((byte)0x10);
        Vector128<byte> a = Sse2.LoadVector128(qs + 32 * c);
        Vector128<byte> b = Sse2.LoadVector128(qs + 32 * c + 16);
        Vector128<byte> aLo = (a & low4) | (Sse2.ShiftLeftLogical(ha, 4).AsByte() & bit4);
        Vector128<byte> bLo = (b & low4) | (Sse2.ShiftLeftLogical(hb, 4).AsByte() & bit4);
        Vector128<byte> aHi = (Sse2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & low4) | (Sse2.ShiftLeftLogical(ha, 3).AsByte() & bit4);
        Vector128<byte> bHi = (Sse2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & low4) | (Sse2.ShiftLeftLogical(hb, 3).AsByte() & bit4);
        ha = Sse2.ShiftRightLogical(ha, 2);
        hb = Sse2.ShiftRightLogical(hb, 2);
        q8 += 64 * c;
        Vector128<short> pLo = Ssse3.MultiplyAddAdjacent(aLo, Sse2.LoadVector128(q8)) + Ssse3.MultiplyAddAdjacent(bLo, Sse2.LoadVector128(q8 + 16));
        Vector128<short> pHi = Ssse3.MultiplyAddAdjacent(aHi, Sse2.LoadVector128(q8 + 32)) + Ssse3.MultiplyAddAdjacent(bHi, Sse2.LoadVector128(q8 + 48));
        lo += Sse2.MultiplyAddAdjacent(pLo, KDot.Broadcast(scales, 2 * c));
        hi += Sse2.MultiplyAddAdjacent(pHi, KDot.Broadcast(scales, 2 * c + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockQ5_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.UnpackAvx2((byte*)&x->Scales);
        mins = Q4_KDot.MinSums(y, sm);
        Vector128<short> sc = Sse41.ConvertToVector128Int16(sm);
        Vector256<byte> scales = Vector256.Create(sc, sc).AsByte();

        // Chunk c needs bits 2c and 2c+1 of Qh at bit 4: Qh shifted right by 2 per chunk, then left by 4 and 3. Word
        // shifts carry bits across bytes, but only into bits the 0x10 mask drops. Written out per chunk so that every
        // shuffle control is a constant.
        Vector256<ushort> hbits = Avx.LoadVector256((ushort*)&x->Qh);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        // Two accumulators (low and high nibbles) keep the multiply-accumulate chains short.
        Vector256<int> lo = Vector256<int>.Zero, hi = Vector256<int>.Zero;
        Chunk256(qs, q8, scales, ref hbits, ref lo, ref hi, 0);
        Chunk256(qs, q8, scales, ref hbits, ref lo, ref hi, 1);
        Chunk256(qs, q8, scales, ref hbits, ref lo, ref hi, 2);
        Chunk256(qs, q8, scales, ref hbits, ref lo, ref hi, 3);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Chunk256(byte* qs, sbyte* q8, Vector256<byte> scales, ref Vector256<ushort> hbits, ref Vector256<int> lo, ref Vector256<int> hi, [ConstantExpected(Min = 0, Max = 3)] int c)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        Vector256<byte> bit4 = Vector256.Create((byte)0x10);
        Vector256<byte> q4 = Avx.LoadVector256(qs + 32 * c);
        Vector256<byte> q5lo = (q4 & low4) | (Avx2.ShiftLeftLogical(hbits, 4).AsByte() & bit4);
        Vector256<byte> q5hi = (Avx2.ShiftRightLogical(q4.AsUInt16(), 4).AsByte() & low4) | (Avx2.ShiftLeftLogical(hbits, 3).AsByte() & bit4);
        hbits = Avx2.ShiftRightLogical(hbits, 2);
        Vector256<short> s0 = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0100 + 0x0202 * 2 * c)).AsByte()).AsInt16();
        Vector256<short> s1 = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0100 + 0x0202 * (2 * c + 1))).AsByte()).AsInt16();
        lo = KDot.MulAdd(lo, q5lo, Avx.LoadVector256(q8 + 64 * c), s0);
        hi = KDot.MulAdd(hi, q5hi, Avx.LoadVector256(q8 + 64 * c + 32), s1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockQ5_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.UnpackAvx2((byte*)&x->Scales);
        mins = Q4_KDot.MinSums(y, sm);
        Vector512<byte> sc = Q4_KDot.Broadcast128(sm);

        // As Q4_K's AVX-512 path: chunk c twice, the high 256 bits shifted by 4 (sub-block 2c+1). Qh twice too, the high
        // half shifted by 1 so that bit 2c of every byte is the fifth bit in both halves.
        Vector512<ushort> shift = Vector512.Create(0UL, 0, 0, 0, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004).AsUInt16();
        Vector512<ushort> one = Vector512.Create(0UL, 0, 0, 0, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001).AsUInt16();
        Vector512<byte> low4 = Vector512.Create((byte)0x0F);
        Vector256<ushort> qh = Avx.LoadVector256((ushort*)&x->Qh);
        Vector512<ushort> hbits = Avx512BW.ShiftRightLogicalVariable(Avx512F.InsertVector256(qh.ToVector512Unsafe(), qh, 1), one);
        Vector512<uint> q01 = Avx512F.LoadVector512((uint*)&x->Qs);
        Vector512<uint> q23 = Avx512F.LoadVector512((uint*)&x->Qs + 16);
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector512<int> acc = KDot.MulAdd(Codes(Avx512F.Shuffle4x128(q01, q01, 0b01_00_01_00), shift, low4, hbits, 0), Avx512BW.LoadVector512(q8), Q4_KDot.ScalePair(sc, 0, 1));
        acc += KDot.MulAdd(Codes(Avx512F.Shuffle4x128(q01, q01, 0b11_10_11_10), shift, low4, hbits, 1), Avx512BW.LoadVector512(q8 + 64), Q4_KDot.ScalePair(sc, 2, 3));
        acc += KDot.MulAdd(Codes(Avx512F.Shuffle4x128(q23, q23, 0b01_00_01_00), shift, low4, hbits, 2), Avx512BW.LoadVector512(q8 + 128), Q4_KDot.ScalePair(sc, 4, 5));
        acc += KDot.MulAdd(Codes(Avx512F.Shuffle4x128(q23, q23, 0b11_10_11_10), shift, low4, hbits, 3), Avx512BW.LoadVector512(q8 + 192), Q4_KDot.ScalePair(sc, 6, 7));
        return acc;
    }

    /// <summary>Chunk c's 5-bit codes: the nibbles (<see cref="Q4_KDot.Nibbles"/>) with bit 2c of each high-bit byte moved to bit 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Codes(Vector512<uint> chunk, Vector512<ushort> shift, Vector512<byte> low4, Vector512<ushort> hbits, [ConstantExpected(Min = 0, Max = 3)] int c) =>
        Q4_KDot.Nibbles(chunk, shift, low4)
        | ((c switch { 0 => Avx512BW.ShiftLeftLogical(hbits, 4), 1 => Avx512BW.ShiftLeftLogical(hbits, 2), 2 => hbits, _ => Avx512BW.ShiftRightLogical(hbits, 2) }).AsByte() & Vector512.Create((byte)0x10));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockQ5_K x, ref readonly BlockQ8_K y, out int mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x.Scales);
        mins = Q4_KDot.MinSumsNeon(in y, sm);
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> bit0 = Vector128.Create((byte)1);
        Vector128<byte> bit1 = Vector128.Create((byte)2);
        ref readonly byte qs = ref x.Qs[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        Vector128<byte> ha = Vector128.LoadUnsafe(in x.Qh[0]);
        Vector128<byte> hb = Vector128.LoadUnsafe(in x.Qh[0], 16);
        int sum = 0;
        for (int c = 0; c < 4; ++c)
        {
            Vector128<byte> a = Vector128.LoadUnsafe(in qs, (nuint)(32 * c));
            Vector128<byte> b = Vector128.LoadUnsafe(in qs, (nuint)(32 * c + 16));
            Vector128<byte> loA = (a & low4) | AdvSimd.ShiftLeftLogical(ha & bit0, 4);
            Vector128<byte> loB = (b & low4) | AdvSimd.ShiftLeftLogical(hb & bit0, 4);
            Vector128<byte> hiA = AdvSimd.ShiftRightLogical(a, 4) | AdvSimd.ShiftLeftLogical(ha & bit1, 3);
            Vector128<byte> hiB = AdvSimd.ShiftRightLogical(b, 4) | AdvSimd.ShiftLeftLogical(hb & bit1, 3);
            ha = AdvSimd.ShiftRightLogical(ha, 2);
            hb = AdvSimd.ShiftRightLogical(hb, 2);
            int lo = KDot.Dot32(loA.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c)), loB.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 16)));
            int hi = KDot.Dot32(hiA.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 32)), hiB.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 48)));
            sum += sm.GetElement(2 * c) * lo + sm.GetElement(2 * c + 1) * hi;
        }

        return sum;
    }
}
