using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// IQ4_XS × Q8_K (<c>ggml_vec_dot_iq4_xs_q8_K</c>): per super-block, Σ_ib (ls_ib − 32)·Σ kvalues[q]·q8 is exact in int32.
/// ggml's generic kernel scales each sub-block's sum in float (its reference order); the vector paths scale in int16
/// and convert once per super-block.
/// </summary>
internal readonly struct IQ4_XSDot : IKScaledBlocks<IQ4_XSDot, BlockIQ4_XS>
{
    public static QuantType WeightType => QuantType.IQ4_XS;

    public static int BlockBytes => BlockIQ4_XS.Size;

    /// <summary>ggml's generic kernel: per sub-block, (d·dy·(ls − 32))·Σ into one float accumulator.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockIQ4_XS.Size, weights, activations);
        ReadOnlySpan<BlockIQ4_XS> x = MemoryMarshal.Cast<byte, BlockIQ4_XS>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        Span<int> sumi = stackalloc int[8];
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            float d4d8 = Fp16.ToSingle(x[i].D) * y[i].D;
            SubBlockSums(in x[i], in y[i], sumi);
            for (int ib = 0; ib < 8; ++ib)
            {
                sumf += d4d8 * (x[i].Scale(ib) - 32) * sumi[ib];
            }
        }

        return sumf;
    }

    /// <summary>Σ_j kvalues[q_j]·q8_j of each 32-value sub-block.</summary>
    internal static void SubBlockSums(in BlockIQ4_XS x, in BlockQ8_K y, Span<int> sumi)
    {
        ReadOnlySpan<sbyte> kvalues = Iq4Search.Values;
        for (int ib = 0; ib < 8; ++ib)
        {
            int sumi1 = 0, sumi2 = 0;
            for (int j = 0; j < 16; ++j)
            {
                byte q = x.Qs[16 * ib + j];
                sumi1 += y.Qs[32 * ib + j] * kvalues[q & 0xF];
                sumi2 += y.Qs[32 * ib + 16 + j] * kvalues[q >> 4];
            }

            sumi[ib] = sumi1 + sumi2;
        }
    }

    /// <summary>
    /// The eight 6-bit scales, one per byte: byte ib is what <see cref="BlockIQ4_XS.Scale"/> returns — nibble ib of the
    /// low bits and two-bit field ib of the high bits deposited by shifts and masks. (Not PDEP: AMD processors before
    /// Zen 3 run it in microcode, hundreds of cycles, which made this dot five times slower than ggml's on a Zen 2.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Scales(ushort scalesH, uint scalesL)
    {
        ulong l = scalesL;
        l = (l | (l << 16)) & 0x0000_FFFF_0000_FFFF;
        l = (l | (l << 8)) & 0x00FF_00FF_00FF_00FF;
        l = (l | (l << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        ulong h = scalesH;
        h = (h | (h << 24)) & 0x0000_00FF_0000_00FF;
        h = (h | (h << 12)) & 0x000F_000F_000F_000F;
        h = (h | (h << 6)) & 0x0303_0303_0303_0303;
        return l | (h << 4);
    }

    public static ushort D(in BlockIQ4_XS x) => x.D;

    /// <summary>One super-block's Σ (ls − 32)·Σ kvalues·q8 from the reference's sub-block sums.</summary>
    public static int SuperBlockSum(in BlockIQ4_XS x, in BlockQ8_K y)
    {
        Span<int> sumi = stackalloc int[8];
        SubBlockSums(in x, in y, sumi);
        int s = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            s += (x.Scale(ib) - 32) * sumi[ib];
        }

        return s;
    }

    /// <summary>The eight multipliers ls − 32 as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<short> SignedScales(BlockIQ4_XS* x) =>
        Sse41.ConvertToVector128Int16(Vector128.CreateScalar(Scales(x->ScalesH, *(uint*)&x->ScalesL)).AsByte()) - Vector128.Create((short)32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ4_XS* x, BlockQ8_K* y)
    {
        Vector128<short> sc = SignedScales(x);
        Vector256<byte> scales = Vector256.Create(sc, sc).AsByte();
        Vector256<byte> pick = Vector256.Create((ushort)0x0100).AsByte();
        Vector256<byte> next = Vector256.Create((byte)2);
        Vector128<sbyte> table128 = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        Vector256<sbyte> table = Vector256.Create(table128, table128);
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<int> acc = Vector256<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            // Sub-block ib in natural order: low nibbles (values 0..15) in the low 128 bits, high nibbles above.
            Vector128<byte> q = Sse2.LoadVector128(qs + 16 * ib);
            Vector256<byte> codes = Vector256.Create(q, Sse2.ShiftRightLogical(q.AsUInt16(), 4).AsByte()) & low4;
            Vector256<sbyte> w = Avx2.Shuffle(table, codes.AsSByte());

            // Signed × signed through pmaddubsw: |w| times q8 with w's sign (exact: |q8| ≤ 127).
            Vector256<short> s = Avx2.Shuffle(scales, pick).AsInt16();
            pick += next;
            acc = KDot.MulAdd(acc, Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(q8 + 32 * ib), w), s);
        }

        return acc;
    }

    /// <summary>
    /// One super-block on SSSE3/SSE4.1: <see cref="Block256"/> on 16-byte halves (the low and the high nibbles of a
    /// sub-block). Each half's int16 pair sums reach 2·127·127, so each is scaled on its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ4_XS* x, BlockQ8_K* y)
    {
        Vector128<byte> scales = SignedScales(x).AsByte();
        Vector128<byte> pick = Vector128.Create((ushort)0x0100).AsByte();
        Vector128<byte> next = Vector128.Create((byte)2);
        Vector128<sbyte> table = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> acc = Vector128<int>.Zero, acc2 = Vector128<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            Vector128<byte> q = Sse2.LoadVector128(qs + 16 * ib);
            Vector128<sbyte> lo = Ssse3.Shuffle(table, (q & low4).AsSByte());
            Vector128<sbyte> hi = Ssse3.Shuffle(table, (Sse2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & low4).AsSByte());

            // Signed × signed through pmaddubsw: |w| times q8 with w's sign (exact: |q8| ≤ 127).
            Vector128<short> s = Ssse3.Shuffle(scales, pick).AsInt16();
            pick += next;
            acc += KDot.MulAdd(Ssse3.Abs(lo), Ssse3.Sign(Sse2.LoadVector128(q8 + 32 * ib), lo), s);
            acc2 += KDot.MulAdd(Ssse3.Abs(hi), Ssse3.Sign(Sse2.LoadVector128(q8 + 32 * ib + 16), hi), s);
        }

        return acc + acc2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ4_XS* x, BlockQ8_K* y)
    {
        Vector512<short> sc = SignedScales(x).ToVector256Unsafe().ToVector512Unsafe();
        Vector512<short> pick = Vector512.Create(0UL, 0, 0, 0, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001, 0x0001_0001_0001_0001).AsInt16();
        Vector512<short> two = Vector512.Create((short)2);
        Vector128<sbyte> table128 = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        Vector512<sbyte> table = Vector512.Create(Vector256.Create(table128, table128), Vector256.Create(table128, table128));
        Vector512<byte> low4 = Vector512.Create((byte)0x0F);

        // 64 bytes are sub-blocks 4p..4p+3, one per 128-bit lane; two-source qword permutes put each sub-block's
        // low-nibble and high-nibble values side by side, two sub-blocks per vector, in natural order.
        Vector512<long> first = Vector512.Create(0L, 1, 8, 9, 2, 3, 10, 11);
        Vector512<long> second = Vector512.Create(4L, 5, 12, 13, 6, 7, 14, 15);
        byte* qs = (byte*)&x->Qs;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector512<int> acc = Vector512<int>.Zero;
        for (int p = 0; p < 2; ++p)
        {
            Vector512<byte> q = Avx512BW.LoadVector512(qs + 64 * p);
            Vector512<long> lo = Avx512BW.Shuffle(table, (q & low4).AsSByte()).AsInt64();
            Vector512<long> hi = Avx512BW.Shuffle(table, (Avx512BW.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & low4).AsSByte()).AsInt64();
            acc += SignedMulAdd(Avx512F.PermuteVar8x64x2(lo, first, hi).AsSByte(), Avx512BW.LoadVector512(q8 + 128 * p), Avx512BW.PermuteVar32x16(sc, pick));
            pick += two;
            acc += SignedMulAdd(Avx512F.PermuteVar8x64x2(lo, second, hi).AsSByte(), Avx512BW.LoadVector512(q8 + 128 * p + 64), Avx512BW.PermuteVar32x16(sc, pick));
            pick += two;
        }

        return acc;
    }

    /// <summary>w·q8 for signed w as |w|·(q8 with w's sign): AVX-512 has no vpsignb, so the negation is a select.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> SignedMulAdd(Vector512<sbyte> w, Vector512<sbyte> q8, Vector512<short> scale)
    {
        Vector512<sbyte> signed = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), -q8, q8);
        return KDot.MulAdd(Avx512BW.Abs(w), signed, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ4_XS x, ref readonly BlockQ8_K y)
    {
        Vector128<byte> table = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113).AsByte();
        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        ulong scales = Scales(x.ScalesH, MemoryMarshal.Read<uint>(x.ScalesL));
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            Vector128<byte> q = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(16 * ib));
            Vector128<sbyte> lo = AdvSimd.Arm64.VectorTableLookup(table, q & low4).AsSByte();
            Vector128<sbyte> hi = AdvSimd.Arm64.VectorTableLookup(table, AdvSimd.ShiftRightLogical(q, 4)).AsSByte();
            int s = KDot.Dot32(lo, Vector128.LoadUnsafe(in q8, (nuint)(32 * ib)), hi, Vector128.LoadUnsafe(in q8, (nuint)(32 * ib + 16)));
            sum += (((int)(scales >> (8 * ib)) & 0x3F) - 32) * s;
        }

        return sum;
    }
}
