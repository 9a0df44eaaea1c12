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
/// Q2_K × Q8_K (<c>ggml_vec_dot_q2_K_q8_K</c>): per super-block, s += d·dy·Σ_k sc_k·Σ q·q8 − dmin·dy·Σ_k m_k·bsum_k over
/// the 16 sub-blocks of 16 (q in 0..3, sc_k and m_k the nibbles of Scales[k]), both sums exact in int32.
/// </summary>
internal readonly struct Q2_KDot : IKDotPaths<BlockQ2_K>, IKMinBlocks<BlockQ2_K>
{
    public static QuantType WeightType => QuantType.Q2_K;

    public static int BlockBytes => BlockQ2_K.Size;

    /// <summary>
    /// On AVX-512 the Q8 codes are put once in the order the super-block kernel takes them (<see cref="PairActivations"/>),
    /// which saves it the lane shuffles; elsewhere the rows run as every super-block format's.
    /// </summary>
    public static unsafe bool TryDotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        KDot.TryPairedRows512<BlockQ2_K>(weights, rowBytes, activations, n, results, BlockQ2_K.Size, &PairActivations, &Dot512);

    /// <summary>ggml's generic kernel: one integer sum and one min sum per super-block, one float accumulator.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockQ2_K.Size, weights, activations);
        ReadOnlySpan<BlockQ2_K> x = MemoryMarshal.Cast<byte, BlockQ2_K>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            (int isum, int summs) = Sums(in x[i], in y[i]);
            float dall = y[i].D * Fp16.ToSingle(x[i].D);
            float dmin = y[i].D * Fp16.ToSingle(x[i].Dmin);
            sumf += dall * isum - dmin * summs;
        }

        return sumf;
    }

    /// <summary>The generic kernel's integer work for one super-block: (Σ_k sc_k·Σ q·q8, Σ_k m_k·bsum_k).</summary>
    internal static (int Sum, int Mins) Sums(in BlockQ2_K x, in BlockQ8_K y)
    {
        int summs = 0;
        for (int k = 0; k < 16; ++k)
        {
            summs += y.Bsums[k] * (x.Scales[k] >> 4);
        }

        int isum = 0;
        for (int k = 0; k < 16; ++k)
        {
            int isuml = 0;
            for (int e = 16 * k; e < 16 * k + 16; ++e)
            {
                int h = e / 128, s = (e / 32) % 4, l = e % 32;
                isuml += y.Qs[e] * ((x.Qs[32 * h + l] >> (2 * s)) & 3);
            }

            isum += (x.Scales[k] & 0xF) * isuml;
        }

        return (isum, summs);
    }

    public static ushort D(in BlockQ2_K x) => x.D;

    public static ushort DMin(in BlockQ2_K x) => x.Dmin;

    /// <summary>Super-block <paramref name="i"/>'s (Σ sc·q·q8, Σ m·bsum) as computed by <paramref name="path"/>.</summary>
    internal static unsafe (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
    {
        ref readonly BlockQ2_K x = ref MemoryMarshal.Cast<byte, BlockQ2_K>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        fixed (BlockQ2_K* px = &x)
        fixed (BlockQ8_K* py = &y)
        {
            switch (path)
            {
                case DotPath.Avx512:
                {
                    Vector512<int> s = Block512(px, py, (sbyte*)&py->Qs, false, out Vector256<int> m);
                    return (Vector512.Sum(s), Vector256.Sum(m));
                }

                case DotPath.Avx2:
                {
                    Vector256<int> s = Block256(px, py, out Vector256<int> m);
                    return (Vector256.Sum(s), Vector256.Sum(m));
                }

                case DotPath.Ssse3:
                {
                    Vector128<int> s = Block128(px, py, out Vector128<int> m);
                    return (Vector128.Sum(s), Vector128.Sum(m));
                }

                case DotPath.AdvSimd:
                {
                    int s = BlockNeon(in x, in y, out int m);
                    return (s, m);
                }

                default:
                    return Sums(in x, in y);
            }
        }
    }

    public static unsafe float Dot256(BlockQ2_K* x, BlockQ8_K* y, int nb)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector256<float> accm = Vector256<float>.Zero;
        ref float half = ref KDot.HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector256<int> s = Block256(x, y, out Vector256<int> m);
            acc = Vector256.MultiplyAddEstimate(Vector256.Create(KDot.HalfToSingle(ref half, x->D) * y->D), Vector256.ConvertToSingle(s), acc);
            accm = Vector256.MultiplyAddEstimate(Vector256.Create(KDot.HalfToSingle(ref half, x->Dmin) * y->D), Vector256.ConvertToSingle(m), accm);
        }

        return Vector256.Sum(acc) - Vector256.Sum(accm);
    }

    public static unsafe float Dot128(BlockQ2_K* x, BlockQ8_K* y, int nb) => KDot.MinDot128<Q2_KDot, BlockQ2_K>(x, y, nb);

    public static unsafe float Dot512(BlockQ2_K* x, BlockQ8_K* y, int nb) => Dot512(x, y, null, nb);

    /// <summary>
    /// <see cref="Dot512(BlockQ2_K*, BlockQ8_K*, int)"/> with the Q8 codes from <paramref name="paired"/>
    /// (<see cref="PairActivations"/>) unless it is null; the same result either way.
    /// </summary>
    private static unsafe float Dot512(BlockQ2_K* x, BlockQ8_K* y, sbyte* paired, int nb)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector256<float> accm = Vector256<float>.Zero;
        ref float half = ref KDot.HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector512<int> s = paired is null
                ? Block512(x, y, (sbyte*)&y->Qs, false, out Vector256<int> m)
                : Block512(x, y, paired + 256 * i, true, out m);
            acc = Vector512.MultiplyAddEstimate(Vector512.Create(KDot.HalfToSingle(ref half, x->D) * y->D), Vector512.ConvertToSingle(s), acc);
            accm = Vector256.MultiplyAddEstimate(Vector256.Create(KDot.HalfToSingle(ref half, x->Dmin) * y->D), Vector256.ConvertToSingle(m), accm);
        }

        return Vector512.Sum(acc) - Vector256.Sum(accm);
    }

    public static float DotNeon(ref readonly BlockQ2_K x, ref readonly BlockQ8_K y, int nb) => KDot.MinDotNeon<Q2_KDot, BlockQ2_K>(in x, in y, nb);

    /// <summary>The 16 scales (low nibbles) and Σ_k m_k·bsum_k in eight int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<byte> ScalesAndMins(BlockQ2_K* x, BlockQ8_K* y, out Vector256<int> mins)
    {
        Vector128<byte> packed = Sse2.LoadVector128((byte*)&x->Scales);
        Vector128<byte> m = Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F);
        mins = Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)&y->Bsums), Avx2.ConvertToVector256Int16(m));
        return packed & Vector128.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> Block256(BlockQ2_K* x, BlockQ8_K* y, out Vector256<int> mins)
    {
        Vector256<short> scales16 = Avx2.ConvertToVector256Int16(ScalesAndMins(x, y, out mins));
        Vector256<int> acc = Vector256<int>.Zero, acc2 = Vector256<int>.Zero;

        // Written out per half so that every scale shuffle control is a constant.
        Half256((byte*)&x->Qs, (sbyte*)&y->Qs, KDot.ScaleHalf256(scales16, 0), ref acc, ref acc2);
        Half256((byte*)&x->Qs + 32, (sbyte*)&y->Qs + 128, KDot.ScaleHalf256(scales16, 1), ref acc, ref acc2);
        return acc + acc2;
    }

    /// <summary>The 128 values of one half: 32 code bytes, four 2-bit fields each (scales 8h..8h+7 in <paramref name="scales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Half256(byte* qs, sbyte* q8, Vector256<byte> scales, ref Vector256<int> acc, ref Vector256<int> acc2)
    {
        Vector256<byte> three = Vector256.Create((byte)3);
        Vector256<ushort> q2 = Avx.LoadVector256((ushort*)qs);
        acc = KDot.MulAdd(acc, q2.AsByte() & three, Avx.LoadVector256(q8), KDot.ScalePair256(scales, 0));
        acc2 = KDot.MulAdd(acc2, Avx2.ShiftRightLogical(q2, 2).AsByte() & three, Avx.LoadVector256(q8 + 32), KDot.ScalePair256(scales, 1));
        acc = KDot.MulAdd(acc, Avx2.ShiftRightLogical(q2, 4).AsByte() & three, Avx.LoadVector256(q8 + 64), KDot.ScalePair256(scales, 2));
        acc2 = KDot.MulAdd(acc2, Avx2.ShiftRightLogical(q2, 6).AsByte() & three, Avx.LoadVector256(q8 + 96), KDot.ScalePair256(scales, 3));
    }

    /// <summary>One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves, each one sub-block of 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockQ2_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> packed = Sse2.LoadVector128((byte*)&x->Scales);
        Vector128<sbyte> m = (Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low4).AsSByte();
        mins = KDot.BsumProducts(y, KDot.Widen(m, 0), KDot.Widen(m, 1));
        Vector128<sbyte> sc = (packed & low4).AsSByte();
        Vector128<int> acc = Vector128<int>.Zero, acc2 = Vector128<int>.Zero;
        Half128((byte*)&x->Qs, (sbyte*)&y->Qs, KDot.Widen(sc, 0), ref acc, ref acc2);
        Half128((byte*)&x->Qs + 32, (sbyte*)&y->Qs + 128, KDot.Widen(sc, 1), ref acc, ref acc2);
        return acc + acc2;
    }

    /// <summary>The 128 values of one half: code bytes 0–15 and 16–31, four 2-bit fields each (scales 8h..8h+7 in <paramref name="scales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Half128(byte* qs, sbyte* q8, Vector128<short> scales, ref Vector128<int> acc, ref Vector128<int> acc2)
    {
        Vector128<byte> three = Vector128.Create((byte)3);
        Vector128<ushort> a = Sse2.LoadVector128((ushort*)qs);
        Vector128<ushort> b = Sse2.LoadVector128((ushort*)(qs + 16));
        acc += KDot.MulAdd(a.AsByte() & three, Sse2.LoadVector128(q8), KDot.Broadcast(scales, 0));
        acc2 += KDot.MulAdd(b.AsByte() & three, Sse2.LoadVector128(q8 + 16), KDot.Broadcast(scales, 1));
        acc += KDot.MulAdd(Sse2.ShiftRightLogical(a, 2).AsByte() & three, Sse2.LoadVector128(q8 + 32), KDot.Broadcast(scales, 2));
        acc2 += KDot.MulAdd(Sse2.ShiftRightLogical(b, 2).AsByte() & three, Sse2.LoadVector128(q8 + 48), KDot.Broadcast(scales, 3));
        acc += KDot.MulAdd(Sse2.ShiftRightLogical(a, 4).AsByte() & three, Sse2.LoadVector128(q8 + 64), KDot.Broadcast(scales, 4));
        acc2 += KDot.MulAdd(Sse2.ShiftRightLogical(b, 4).AsByte() & three, Sse2.LoadVector128(q8 + 80), KDot.Broadcast(scales, 5));
        acc += KDot.MulAdd(Sse2.ShiftRightLogical(a, 6).AsByte() & three, Sse2.LoadVector128(q8 + 96), KDot.Broadcast(scales, 6));
        acc2 += KDot.MulAdd(Sse2.ShiftRightLogical(b, 6).AsByte() & three, Sse2.LoadVector128(q8 + 112), KDot.Broadcast(scales, 7));
    }

    /// <summary>
    /// One super-block on AVX-512. The 64 code bytes load as one vector; field s (bits 2s..2s+1) of it holds values
    /// 32s..32s+31 in the low 256 bits and 128+32s.. in the high 256 bits, one sub-block of 16 per 128-bit lane, so the
    /// Q8 codes are taken 32 and 32 in that order: from <paramref name="q8"/> in natural order (<paramref name="paired"/>
    /// false: two loads each) or from a copy laid out so already (true: <see cref="PairActivations"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Block512(BlockQ2_K* x, BlockQ8_K* y, sbyte* q8, bool paired, out Vector256<int> mins)
    {
        Vector512<byte> sc = Q4_KDot.Broadcast128(ScalesAndMins(x, y, out mins));
        Vector512<byte> three = Vector512.Create((byte)3);
        Vector512<ushort> q2 = Avx512BW.LoadVector512((ushort*)&x->Qs);
        Vector512<int> acc = KDot.MulAdd(q2.AsByte() & three, Activations(q8, paired, 0), ScaleQuad(sc, 0));
        Vector512<int> acc2 = KDot.MulAdd(Avx512BW.ShiftRightLogical(q2, 2).AsByte() & three, Activations(q8, paired, 1), ScaleQuad(sc, 1));
        acc += KDot.MulAdd(Avx512BW.ShiftRightLogical(q2, 4).AsByte() & three, Activations(q8, paired, 2), ScaleQuad(sc, 2));
        acc2 += KDot.MulAdd(Avx512BW.ShiftRightLogical(q2, 6).AsByte() & three, Activations(q8, paired, 3), ScaleQuad(sc, 3));
        return acc + acc2;
    }

    /// <summary>Scales 2s, 2s+1, 8+2s, 9+2s as int16, one per 128-bit lane, from the scale bytes in every lane of <paramref name="sc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> ScaleQuad(Vector512<byte> sc, [ConstantExpected(Min = 0, Max = 3)] int s) =>
        Avx512BW.Shuffle(sc, Vector512.Create(Vector256.Create(Vector128.Create((ushort)(0x8000 + 2 * s)), Vector128.Create((ushort)(0x8000 + 2 * s + 1))),
                                              Vector256.Create(Vector128.Create((ushort)(0x8000 + 8 + 2 * s)), Vector128.Create((ushort)(0x8000 + 9 + 2 * s)))).AsByte()).AsInt16();

    /// <summary>Q8 codes 32s..32s+31 and 128+32s..128+32s+31, for field s of <see cref="Block512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<sbyte> Activations(sbyte* q8, bool paired, [ConstantExpected(Min = 0, Max = 3)] int s) =>
        paired
            ? Avx512BW.LoadVector512(q8 + 64 * s)
            : Vector512.Create(Avx.LoadVector256(q8 + 32 * s), Avx.LoadVector256(q8 + 128 + 32 * s));

    /// <summary>Every super-block's Q8 codes in the order <see cref="Block512"/> takes them (256 bytes each).</summary>
    private static unsafe void PairActivations(BlockQ8_K* y, int nb, sbyte* paired)
    {
        for (int i = 0; i < nb; i++, y++, paired += 256)
        {
            sbyte* q8 = (sbyte*)&y->Qs;
            for (int s = 0; s < 4; s++)
            {
                Avx.Store(paired + 64 * s, Avx.LoadVector256(q8 + 32 * s));
                Avx.Store(paired + 64 * s + 32, Avx.LoadVector256(q8 + 128 + 32 * s));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockQ2_K x, ref readonly BlockQ8_K y, out int mins)
    {
        Vector128<byte> packed = Vector128.LoadUnsafe(in x.Scales[0]);
        Vector128<short> m = AdvSimd.ZeroExtendWideningLower(AdvSimd.ShiftRightLogical(packed, 4).GetLower()).AsInt16();
        Vector128<short> m2 = AdvSimd.ZeroExtendWideningUpper(AdvSimd.ShiftRightLogical(packed, 4)).AsInt16();
        ref readonly short bs = ref y.Bsums[0];
        Vector128<int> p = AdvSimd.MultiplyWideningLower(Vector128.LoadUnsafe(in bs).GetLower(), m.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs), m);
        p = AdvSimd.MultiplyWideningLowerAndAdd(p, Vector128.LoadUnsafe(in bs, 8).GetLower(), m2.GetLower());
        p = AdvSimd.MultiplyWideningUpperAndAdd(p, Vector128.LoadUnsafe(in bs, 8), m2);
        mins = AdvSimd.Arm64.AddAcross(p).ToScalar();

        Vector128<byte> three = Vector128.Create((byte)3);
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int h = 0; h < 2; ++h)
        {
            Vector128<byte> a = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(32 * h));
            Vector128<byte> b = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(32 * h + 16));
            for (int s = 0; s < 4; ++s)
            {
                int e = 128 * h + 32 * s;
                sum += (x.Scales[e / 16] & 0xF) * Dot16(a & three, in q8, e) + (x.Scales[e / 16 + 1] & 0xF) * Dot16(b & three, in q8, e + 16);
                a = AdvSimd.ShiftRightLogical(a, 2);
                b = AdvSimd.ShiftRightLogical(b, 2);
            }
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Dot16(Vector128<byte> codes, ref readonly sbyte q8, int e) =>
        AdvSimd.Arm64.AddAcross(KDot.Dot4(Vector128<int>.Zero, codes.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)e))).ToScalar();
}
