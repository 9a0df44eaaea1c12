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
/// Q4_K × Q8_K (<c>ggml_vec_dot_q4_K_q8_K</c>): per super-block, s += d·dy·Σ_j sc_j·Σ q·q8 − dmin·dy·Σ_j m_j·bsum_j,
/// both sums exact in int32 (docs/formats.md#block-formulas).
/// </summary>
internal readonly struct Q4_KDot : IKLaneReference<Q4_KDot, BlockQ4_K>, IKMinBlocks4<BlockQ4_K>
{
    public static QuantType WeightType => QuantType.Q4_K;

    public static int BlockBytes => BlockQ4_K.Size;

    /// <summary>
    /// On AVX-512 the Q8 codes are put once in the order the super-block kernel takes them (<see cref="PairActivations"/>),
    /// which saves it the lane shuffles; elsewhere the rows run as every super-block format's.
    /// </summary>
    public static unsafe bool TryDotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        KDot.TryPairedRows512<BlockQ4_K>(weights, rowBytes, activations, n, results, BlockQ4_K.Size, &PairActivations, &Dot512);

    public static bool HasMin => true;

    public static ushort D(in BlockQ4_K x) => x.D;

    public static ushort DMin(in BlockQ4_K x) => x.DMin;

    /// <summary>The generic kernel's integer work for one super-block: lane e % 8 gets sc·q·q8 of element e; returns Σ m·bsum.</summary>
    public static int LaneSums(in BlockQ4_K x, in BlockQ8_K y, Span<int> aux32)
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
            int q = (x.Qs[32 * c + l] >> (4 * h)) & 0xF;
            KScales.Get(e / 32, scales, out int sc, out _);
            aux32[e % 8] += sc * (y.Qs[e] * q);
        }

        return mins;
    }

    /// <summary>Super-block <paramref name="i"/>'s (Σ sc·q·q8, Σ m·bsum) as computed by <paramref name="path"/>.</summary>
    internal static (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i) =>
        KDot.MinSuperBlockSums<Q4_KDot, BlockQ4_K>(path, weights, activations, i);

    public static unsafe float Dot128(BlockQ4_K* x, BlockQ8_K* y, int nb) => KDot.MinDot128<Q4_KDot, BlockQ4_K>(x, y, nb);

    public static unsafe float Dot256(BlockQ4_K* x, BlockQ8_K* y, int nb) => KDot.MinDot256<Q4_KDot, BlockQ4_K>(x, y, nb);

    public static unsafe float Dot512(BlockQ4_K* x, BlockQ8_K* y, int nb) => Dot512(x, y, null, nb);

    /// <summary>
    /// <see cref="Dot512(BlockQ4_K*, BlockQ8_K*, int)"/> with the Q8 codes from <paramref name="paired"/>
    /// (<see cref="PairActivations"/>) unless it is null; the same result either way.
    /// </summary>
    private static unsafe float Dot512(BlockQ4_K* x, BlockQ8_K* y, sbyte* paired, int nb)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        ref float half = ref KDot.HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector512<int> s = paired is null
                ? Block512(x, y, (sbyte*)&y->Qs, false, out Vector128<int> m, null)
                : Block512(x, y, paired + 256 * i, true, out m, (short*)(paired + 256 * nb) + 8 * i);
            acc = Vector512.MultiplyAddEstimate(Vector512.Create(KDot.HalfToSingle(ref half, x->D) * y->D), Vector512.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(KDot.HalfToSingle(ref half, x->DMin) * y->D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector512.Sum(acc) - Vector128.Sum(accm);
    }

    public static float DotNeon(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, int nb) => KDot.MinDotNeon<Q4_KDot, BlockQ4_K>(in x, in y, nb);

    /// <summary>Σ m_j·(bsum_2j + bsum_2j+1) in four int32 lanes (Q4_K and Q5_K); the mins are bytes 8–15 of <paramref name="scalesAndMins"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector128<int> MinSums(BlockQ8_K* y, Vector128<byte> scalesAndMins) => MinSums(BsumPairs(y), scalesAndMins);

    /// <summary><see cref="MinSums(BlockQ8_K*, Vector128{byte})"/> from the eight sums bsum_2j + bsum_2j+1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> MinSums(Vector128<short> bsumPairs, Vector128<byte> scalesAndMins) =>
        Sse2.MultiplyAddAdjacent(bsumPairs, Sse41.ConvertToVector128Int16(Sse2.ShiftRightLogical128BitLane(scalesAndMins, 8)));

    /// <summary>bsum_2j + bsum_2j+1 for the eight 32-value sub-blocks j (int16: |Σ| ≤ 32·127).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<short> BsumPairs(BlockQ8_K* y)
    {
        short* bs = (short*)&y->Bsums;
        return Ssse3.HorizontalAdd(Sse2.LoadVector128(bs), Sse2.LoadVector128(bs + 8));
    }

    /// <summary>
    /// One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves. Chunk c is sub-blocks 2c (low
    /// nibbles) and 2c+1 (high nibbles); both halves of a sub-block share its scale, so their int16 pair sums
    /// (≤ 2·2·15·127) are added before the scale multiply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockQ4_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x->Scales);
        mins = MinSums(y, sm);
        Vector128<short> sc = Sse41.ConvertToVector128Int16(sm);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> lo = Vector128<int>.Zero, hi = Vector128<int>.Zero;
        Chunk128(qs, q8, sc, ref lo, ref hi, 0);
        Chunk128(qs, q8, sc, ref lo, ref hi, 1);
        Chunk128(qs, q8, sc, ref lo, ref hi, 2);
        Chunk128(qs, q8, sc, ref lo, ref hi, 3);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Chunk128(byte* qs, sbyte* q8, Vector128<short> scales, ref Vector128<int> lo, ref Vector128<int> hi, [ConstantExpected(Min = 0, Max = 3)] int c)
    {
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        Vector128<byte> a = Sse2.LoadVector128(qs + 32 * c);
        Vector128<byte> b = Sse2.LoadVector128(qs + 32 * c + 16);
        q8 += 64 * c;
        Vector128<short> pLo = Ssse3.MultiplyAddAdjacent(a & low4, Sse2.LoadVector128(q8)) + Ssse3.MultiplyAddAdjacent(b & low4, Sse2.LoadVector128(q8 + 16));
        Vector128<short> pHi = Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & low4, Sse2.LoadVector128(q8 + 32))
                             + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & low4, Sse2.LoadVector128(q8 + 48));
        lo += Sse2.MultiplyAddAdjacent(pLo, KDot.Broadcast(scales, 2 * c));
        hi += Sse2.MultiplyAddAdjacent(pHi, KDot.Broadcast(scales, 2 * c + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockQ4_K* x, BlockQ8_K* y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.UnpackAvx2((byte*)&x->Scales);
        mins = MinSums(y, sm);
        Vector128<short> sc = Sse41.ConvertToVector128Int16(sm);
        Vector256<byte> scales = Vector256.Create(sc, sc).AsByte();
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;

        // Written out per chunk so that every shuffle control is a constant (the loop is not unrolled by the JIT).
        // Two accumulators (low and high nibbles) keep the multiply-accumulate chains short.
        Vector256<int> lo = Vector256<int>.Zero, hi = Vector256<int>.Zero;
        Chunk256(qs, q8, scales, ref lo, ref hi, 0);
        Chunk256(qs, q8, scales, ref lo, ref hi, 1);
        Chunk256(qs, q8, scales, ref lo, ref hi, 2);
        Chunk256(qs, q8, scales, ref lo, ref hi, 3);
        return lo + hi;
    }

    /// <summary>Chunk c: sub-blocks 2c (low nibbles) and 2c+1 (high nibbles), scales broadcast by a byte shuffle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Chunk256(byte* qs, sbyte* q8, Vector256<byte> scales, ref Vector256<int> lo, ref Vector256<int> hi, [ConstantExpected(Min = 0, Max = 3)] int c)
    {
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        Vector256<byte> q4 = Avx.LoadVector256(qs + 32 * c);
        Vector256<short> s0 = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0100 + 0x0202 * 2 * c)).AsByte()).AsInt16();
        Vector256<short> s1 = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0100 + 0x0202 * (2 * c + 1))).AsByte()).AsInt16();
        lo = KDot.MulAdd(lo, q4 & low4, Avx.LoadVector256(q8 + 64 * c), s0);
        hi = KDot.MulAdd(hi, Avx2.ShiftRightLogical(q4.AsUInt16(), 4).AsByte() & low4, Avx.LoadVector256(q8 + 64 * c + 32), s1);
    }

    /// <summary>
    /// One super-block on AVX-512. Each 64 code bytes (chunks c, c+1) give two vectors without a lane shuffle: the low
    /// nibbles (sub-blocks 2c | 2c+2) and the high nibbles (2c+1 | 2c+3), so the Q8 codes are taken 32 and 32 in that
    /// order: from <paramref name="q8"/> in natural order (<paramref name="paired"/> false: two loads each), or from a
    /// copy laid out so already (true: <see cref="PairActivations"/>, made once for many rows, with the bsum pairs of
    /// <see cref="MinSums(BlockQ8_K*, Vector128{byte})"/> at <paramref name="bsumPairs"/>). Both give the same lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Block512(BlockQ4_K* x, BlockQ8_K* y, sbyte* q8, bool paired, out Vector128<int> mins, short* bsumPairs)
    {
        Vector128<byte> sm = KScales.UnpackAvx2((byte*)&x->Scales);
        mins = paired ? MinSums(Sse2.LoadVector128(bsumPairs), sm) : MinSums(y, sm);
        Vector512<byte> sc = Broadcast128(sm);
        Vector512<byte> low4 = Vector512.Create((byte)0x0F);
        Vector512<byte> q01 = Avx512BW.LoadVector512((byte*)&x->Qs);
        Vector512<byte> q23 = Avx512BW.LoadVector512((byte*)&x->Qs + 64);
        Vector512<int> acc = KDot.MulAdd(q01 & low4, Activations(q8, paired, 0), ScalePair(sc, 0, 2));
        acc += KDot.MulAdd(Avx512BW.ShiftRightLogical(q01.AsUInt16(), 4).AsByte() & low4, Activations(q8, paired, 1), ScalePair(sc, 1, 3));
        acc += KDot.MulAdd(q23 & low4, Activations(q8, paired, 2), ScalePair(sc, 4, 6));
        acc += KDot.MulAdd(Avx512BW.ShiftRightLogical(q23.AsUInt16(), 4).AsByte() & low4, Activations(q8, paired, 3), ScalePair(sc, 5, 7));
        return acc;
    }

    /// <summary><see cref="Block512(BlockQ4_K*, BlockQ8_K*, sbyte*, bool, out Vector128{int}, short*)"/> on the Q8 codes in natural order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockQ4_K* x, BlockQ8_K* y, out Vector128<int> mins) =>
        Block512(x, y, (sbyte*)&y->Qs, false, out mins, null);

    /// <summary>Q8 codes 128(k/2) + 32(k%2) .. +31 and the 32 after the next 32, for vector k = 0..3 of <see cref="Block512(BlockQ4_K*, BlockQ8_K*, sbyte*, bool, out Vector128{int}, short*)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<sbyte> Activations(sbyte* q8, bool paired, [ConstantExpected(Min = 0, Max = 3)] int k) =>
        paired
            ? Avx512BW.LoadVector512(q8 + 64 * k)
            : Vector512.Create(Avx.LoadVector256(q8 + 128 * (k / 2) + 32 * (k % 2)), Avx.LoadVector256(q8 + 128 * (k / 2) + 32 * (k % 2) + 64));

    /// <summary>Every super-block's Q8 codes in the order <see cref="Block512(BlockQ4_K*, BlockQ8_K*, sbyte*, bool, out Vector128{int}, short*)"/> takes them (256 bytes each), then its bsum pairs (16 bytes each).</summary>
    private static unsafe void PairActivations(BlockQ8_K* y, int nb, sbyte* paired)
    {
        short* pairs = (short*)(paired + 256 * nb);
        for (int i = 0; i < nb; i++, y++, paired += 256, pairs += 8)
        {
            Sse2.Store(pairs, BsumPairs(y));
            sbyte* q8 = (sbyte*)&y->Qs;
            for (int k = 0; k < 4; k++)
            {
                int from = 128 * (k / 2) + 32 * (k % 2);
                Avx.Store(paired + 64 * k, Avx.LoadVector256(q8 + from));
                Avx.Store(paired + 64 * k + 32, Avx.LoadVector256(q8 + from + 64));
            }
        }
    }

    /// <summary>A chunk duplicated in both 256-bit halves: low nibbles in the low half, high nibbles in the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Nibbles(Vector512<uint> chunk, Vector512<ushort> shift, Vector512<byte> low4) =>
        Avx512BW.ShiftRightLogicalVariable(chunk.AsUInt16(), shift).AsByte() & low4;

    /// <summary>The 16 bytes of <paramref name="v"/> in each 128-bit lane, for in-lane byte shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Broadcast128(Vector128<byte> v)
    {
        Vector512<uint> w = v.AsUInt32().ToVector256Unsafe().ToVector512Unsafe();
        return Avx512F.Shuffle4x128(w, w, 0).AsByte();
    }

    /// <summary>
    /// Scale <paramref name="low"/> in the low 256 bits and <paramref name="high"/> in the high 256 bits as int16, from
    /// the unsigned scale bytes in every lane of <paramref name="sc"/> (<see cref="Broadcast128"/>): one byte shuffle,
    /// the high byte of each int16 zeroed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<short> ScalePair(Vector512<byte> sc, [ConstantExpected(Min = 0, Max = 7)] int low, [ConstantExpected(Min = 0, Max = 7)] int high) =>
        Avx512BW.Shuffle(sc, Vector512.Create(Vector256.Create((ushort)(0x8000 + low)), Vector256.Create((ushort)(0x8000 + high))).AsByte()).AsInt16();

    /// <summary><see cref="MinSums(BlockQ8_K*, Vector128{byte})"/> with AdvSimd, reduced to one int.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MinSumsNeon(ref readonly BlockQ8_K y, Vector128<byte> scalesAndMins)
    {
        ref readonly short bs = ref y.Bsums[0];
        Vector128<short> pairs = AdvSimd.Arm64.AddPairwise(Vector128.LoadUnsafe(in bs), Vector128.LoadUnsafe(in bs, 8));
        Vector128<short> m16 = AdvSimd.ZeroExtendWideningUpper(scalesAndMins).AsInt16();
        Vector128<int> prod = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningLower(pairs.GetLower(), m16.GetLower()), pairs, m16);
        return AdvSimd.Arm64.AddAcross(prod).ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, out int mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x.Scales);
        mins = MinSumsNeon(in y, sm);
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        ref readonly byte qs = ref x.Qs[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int c = 0; c < 4; ++c)
        {
            Vector128<byte> a = Vector128.LoadUnsafe(in qs, (nuint)(32 * c));
            Vector128<byte> b = Vector128.LoadUnsafe(in qs, (nuint)(32 * c + 16));
            int lo = KDot.Dot32((a & low4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c)),
                                (b & low4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 16)));
            int hi = KDot.Dot32(AdvSimd.ShiftRightLogical(a, 4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 32)),
                                AdvSimd.ShiftRightLogical(b, 4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 48)));
            sum += sm.GetElement(2 * c) * lo + sm.GetElement(2 * c + 1) * hi;
        }

        return sum;
    }
}
