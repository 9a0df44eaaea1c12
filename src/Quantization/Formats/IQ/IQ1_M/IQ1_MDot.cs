using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// IQ1_M × Q8_K (<c>ggml_vec_dot_iq1_m_q8_K</c>). ggml sums per super-block sumi1 = Σ_ib ls_ib·Σ grid·q8 and
/// sumi2 = Σ_ib ls_ib·Σ_group (±1)·Σ q8 (ls = 2·scale + 1 per 16 values, ± the shift sign per 8) and adds
/// d·d8·(sumi1 + 0.125·sumi2). The vector paths fold the shift into the codes: with c = 8·grid ± 1 (−9..9) one
/// multiply-add per value gives S = 8·sumi1 + sumi2, and 0.125·S is sumi1 + 0.125·sumi2 to the bit
/// (|S| ≤ 9·15·127·256 &lt; 2^23, so both are exact floats). They multiply the unsigned c + 9 (0..18) by the Q8_K
/// codes, which needs no sign trick, and subtract 9·Σ ls·bsum: Q8_K's bsums are sums of 16 codes, IQ1_M's scale blocks.
/// </summary>
internal readonly struct IQ1_MDot : IKScaledBlocks<IQ1_MDot, BlockIQ1_M>
{
    /// <summary>
    /// c + 9 per byte: entry i + 2048·n holds 8·grid[i] + 1 − 2n + 9 (n = 1 for a −0.125 shift), so the shift sign is a
    /// twelfth index bit; pinned, 32 KiB.
    /// </summary>
    private static readonly ulong[] s_codes = ShiftedCodes();

    public static QuantType WeightType => QuantType.IQ1_M;

    public static int BlockBytes => BlockIQ1_M.Size;

    /// <summary>ggml's generic kernel: sumi1 and sumi2 per super-block, f(d)·d8·(sumi1 + 0.125·sumi2) summed in order.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockIQ1_M.Size, weights, activations);
        ReadOnlySpan<BlockIQ1_M> x = MemoryMarshal.Cast<byte, BlockIQ1_M>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            (int sumi1, int sumi2) = ReferenceSums(in x[i], in y[i]);
            sumf += Fp16.ToSingle(x[i].D) * y[i].D * (sumi1 + IQ1_MReference.Delta * sumi2);
        }

        return sumf;
    }

    /// <summary>The generic kernel's (sumi1, sumi2) of one super-block, value by value.</summary>
    internal static (int Sumi1, int Sumi2) ReferenceSums(in BlockIQ1_M x, in BlockQ8_K y)
    {
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        int sumi1 = 0, sumi2 = 0;
        for (int ib = 0; ib < 16; ++ib)
        {
            int gridSum = 0, shiftSum = 0;
            for (int k = 0; k < 2; ++k)
            {
                int g = 2 * ib + k;
                ulong point = grid[x.GridIndex(g)];
                int lsum1 = 0, lsum2 = 0;
                for (int j = 0; j < 8; ++j)
                {
                    lsum1 += y.Qs[8 * g + j] * (sbyte)(point >> (8 * j));
                    lsum2 += y.Qs[8 * g + j];
                }

                gridSum += lsum1;
                shiftSum += x.NegativeShift(g) ? -lsum2 : lsum2;
            }

            int ls = 2 * x.BlockScale(ib) + 1;
            sumi1 += ls * gridSum;
            sumi2 += ls * shiftSum;
        }

        return (sumi1, sumi2);
    }

    /// <summary>Super-block <paramref name="i"/>'s S = 8·sumi1 + sumi2 as computed by <paramref name="path"/> (no min term: 0).</summary>
    internal static unsafe (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
    {
        ref readonly BlockIQ1_M x = ref MemoryMarshal.Cast<byte, BlockIQ1_M>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        fixed (BlockIQ1_M* px = &x)
        fixed (BlockQ8_K* py = &y)
        {
            switch (path)
            {
                case DotPath.Avx512:
                    return (Vector512.Sum(Block512(px, py)), 0);
                case DotPath.Avx2:
                    return (Vector256.Sum(Block256(px, py)), 0);
                case DotPath.Ssse3:
                    return (Vector128.Sum(Block128(px, py)), 0);
                case DotPath.AdvSimd:
                    return (BlockNeon(in x, in y), 0);
                default:
                    (int sumi1, int sumi2) = ReferenceSums(in x, in y);
                    return (8 * sumi1 + sumi2, 0);
            }
        }
    }

    /// <summary>One super-block's integer sum in units of the 0.125 shift, 8·sumi1 + sumi2: what every vector path computes.</summary>
    public static int SuperBlockSum(in BlockIQ1_M x, in BlockQ8_K y)
    {
        (int sumi1, int sumi2) = ReferenceSums(in x, in y);
        return 8 * sumi1 + sumi2;
    }

    /// <summary>The FP16 super-scale from the top nibbles of the four scale words, as <see cref="BlockIQ1_M.D"/> with one 64-bit read.</summary>
    public static ushort D(in BlockIQ1_M x)
    {
        ulong u = Unsafe.ReadUnaligned<ulong>(in x.Scales[0]);
        return (ushort)(((u >> 12) & 0x000F) | ((u >> 24) & 0x00F0) | ((u >> 36) & 0x0F00) | ((u >> 48) & 0xF000));
    }

    public static unsafe float Dot256(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot256<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    public static unsafe float Dot128(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot128<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    /// <summary>The AVX-512 path: the 256-bit row loop (see <see cref="Block512"/>).</summary>
    public static unsafe float Dot512(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot256<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    public static float DotNeon(ref readonly BlockIQ1_M x, ref readonly BlockQ8_K y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDotNeon<IQ1_MDot, BlockIQ1_M>(in x, in y, nb);

    private static ulong[] ShiftedCodes()
    {
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        ulong[] codes = GC.AllocateUninitializedArray<ulong>(2 * grid.Length, pinned: true);
        for (int k = 0; k < codes.Length; ++k)
        {
            int shift = k < grid.Length ? 1 : -1;
            ulong v = 0;
            for (int j = 0; j < 8; ++j)
            {
                v |= (ulong)(byte)(8 * (sbyte)(grid[k % grid.Length] >> (8 * j)) + shift + Offset) << (8 * j);
            }

            codes[k] = v;
        }

        return codes;
    }

    /// <summary>What the unsigned codes add to c = 8·grid ± 1.</summary>
    private const int Offset = 9;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ulong* Codes() => (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s_codes));

    /// <summary>
    /// The 32 table indices of a super-block as uint16 at <paramref name="indices"/>: group g's low byte is qs[g], its
    /// high byte the nibble g%2 of qh[g/2] (three grid index bits and the shift sign), so one byte interleave of qs with
    /// the spread nibbles writes eight indices (ggml computes each index with scalar shifts and masks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Indices(BlockIQ1_M* x, ushort* indices)
    {
        byte* qs = (byte*)&x->Qs;
        Vector128<byte> qh = Sse2.LoadVector128((byte*)&x->Qh);
        Vector128<byte> nibble = Vector128.Create((byte)0x0F);
        Vector128<byte> low = qh & nibble, high = Sse2.ShiftRightLogical(qh.AsUInt16(), 4).AsByte() & nibble;
        Vector128<byte> high0 = Sse2.UnpackLow(low, high), high1 = Sse2.UnpackHigh(low, high);
        Vector128<byte> qs0 = Sse2.LoadVector128(qs), qs1 = Sse2.LoadVector128(qs + 16);
        Sse2.Store((byte*)indices, Sse2.UnpackLow(qs0, high0));
        Sse2.Store((byte*)(indices + 8), Sse2.UnpackHigh(qs0, high0));
        Sse2.Store((byte*)(indices + 16), Sse2.UnpackLow(qs1, high1));
        Sse2.Store((byte*)(indices + 24), Sse2.UnpackHigh(qs1, high1));
    }

    /// <summary>The unsigned codes of the four groups whose indices are at <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Codes256(ulong* codes, ushort* indices) =>
        Vector256.Create(codes[indices[0]], codes[indices[1]], codes[indices[2]], codes[indices[3]]).AsByte();

    /// <summary>
    /// The sixteen ls = 2·scale + 1 as int16, laid out for one byte shuffle per 32 values: lane c of the low 128 bits
    /// is block 2c's, of the high 128 bits block 2c+1's. Block b's scale is bits 3·(b%4) of word b/4, so the words are
    /// spread to (w0 w0 w1 w1 w2 w2 w3 w3) and each lane multiplied so that its field lands in bits 13–15.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<short> Scales256(BlockIQ1_M* x)
    {
        Vector256<byte> words = Vector256.Create(*(ulong*)&x->Scales).AsByte();
        Vector128<byte> spread = Vector128.Create((byte)0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7);
        Vector256<ushort> pairs = Avx2.Shuffle(words, Vector256.Create(spread, spread)).AsUInt16();
        Vector256<ushort> toTop = Vector256.Create(Vector128.Create((ushort)(1 << 13), 1 << 7, 1 << 13, 1 << 7, 1 << 13, 1 << 7, 1 << 13, 1 << 7),
                                                   Vector128.Create((ushort)(1 << 10), 1 << 4, 1 << 10, 1 << 4, 1 << 10, 1 << 4, 1 << 10, 1 << 4));
        Vector256<ushort> scale = Vector256.ShiftRightLogical(pairs * toTop, 13);
        return (scale + scale + Vector256<ushort>.One).AsInt16();
    }

    /// <summary>
    /// Offset·Σ ls·bsum in int32 lanes, <paramref name="scales"/> as <see cref="Scales256"/> lays them out: the bsums
    /// are put in the same order (even blocks low, odd blocks high) by a byte shuffle and a 64-bit permute.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> OffsetTerms256(Vector256<short> scales, BlockQ8_K* y)
    {
        Vector128<byte> evenOdd = Vector128.Create((byte)0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
        Vector256<byte> bsums = Avx2.Shuffle(Avx.LoadVector256((byte*)&y->Bsums), Vector256.Create(evenOdd, evenOdd));
        Vector256<int> terms = Avx2.MultiplyAddAdjacent(Avx2.Permute4x64(bsums.AsUInt64(), 0b11_01_10_00).AsInt16(), scales);
        return Avx2.ShiftLeftLogical(terms, 3) + terms;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ1_M* x, BlockQ8_K* y)
    {
        ulong* codes = Codes();
        Bytes64 indexBytes;
        ushort* indices = (ushort*)&indexBytes;
        Indices(x, indices);
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<short> scales = Scales256(x);
        Vector256<byte> scaleIndex = Vector256.Create((ushort)0x0100).AsByte();
        Vector256<int> acc = Vector256<int>.Zero;
        for (int c = 0; c < 8; ++c)
        {
            Vector256<byte> w = Codes256(codes, indices + 4 * c);
            Vector256<short> ls = Avx2.Shuffle(scales.AsByte(), scaleIndex).AsInt16();
            scaleIndex += Vector256.Create((byte)2);
            acc = KDot.MulAdd(acc, w, Avx.LoadVector256(q8 + 32 * c), ls);
        }

        return acc - OffsetTerms256(scales, y);
    }

    /// <summary>
    /// The AVX-512 path runs the 256-bit kernel: the work is the 32 table loads per super-block, and the 512-bit form
    /// (two-cycle operations on AMD Zen 4, plus the inserts that join two 256-bit halves) measured 0.69x ggml's vec_dot
    /// where this one measures 0.96x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ1_M* x, BlockQ8_K* y) => Block256(x, y).ToVector512();

    /// <summary>The SSSE3/SSE4.1 super-block sums: one 16-value block (two grid points) per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ1_M* x, BlockQ8_K* y)
    {
        ulong* codes = Codes();
        Bytes64 indexBytes;
        ushort* indices = (ushort*)&indexBytes;
        Indices(x, indices);
        sbyte* q8 = (sbyte*)&y->Qs;
        short* bsums = (short*)&y->Bsums;
        Vector128<ushort> words = Vector128.Create(*(ulong*)&x->Scales).AsUInt16();
        Vector128<ushort> toTop = Vector128.Create((ushort)(1 << 13), 1 << 10, 1 << 7, 1 << 4, 1 << 13, 1 << 10, 1 << 7, 1 << 4);
        Vector128<int> acc = Vector128<int>.Zero;
        for (int h = 0; h < 2; ++h)
        {
            // Blocks 8h..8h+7 are words 2h (four) and 2h+1 (four), bits 3·(b%4).
            Vector128<byte> spread = h == 0
                ? Vector128.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3)
                : Vector128.Create((byte)4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7);
            Vector128<ushort> field = Vector128.ShiftRightLogical(Ssse3.Shuffle(words.AsByte(), spread).AsUInt16() * toTop, 13);
            Vector128<short> scales8 = (field + field + Vector128<ushort>.One).AsInt16();
            for (int k = 0; k < 8; ++k)
            {
                int ib = 8 * h + k;
                Vector128<byte> w = Vector128.Create(codes[indices[2 * ib]], codes[indices[2 * ib + 1]]).AsByte();
                acc += KDot.MulAdd(w, Sse2.LoadVector128(q8 + 16 * ib), KDot.Broadcast(scales8, k));
            }

            Vector128<int> terms = Sse2.MultiplyAddAdjacent(Sse2.LoadVector128(bsums + 8 * h), scales8);
            acc -= Sse2.ShiftLeftLogical(terms, 3) + terms;
        }

        return acc;
    }

    /// <summary>The AdvSimd super-block sum (<see cref="KDot.Dot4"/>: SDOT where the CPU has it): one 16-value block per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ1_M x, ref readonly BlockQ8_K y)
    {
        ref ulong codes = ref MemoryMarshal.GetArrayDataReference(s_codes);
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int ib = 0; ib < 16; ++ib)
        {
            int qs0 = x.Qs[2 * ib], qs1 = x.Qs[2 * ib + 1], qh = x.Qh[ib];
            Vector128<byte> w = Vector128.Create(Unsafe.Add(ref codes, qs0 | ((qh & 0x0F) << 8)), Unsafe.Add(ref codes, qs1 | ((qh & 0xF0) << 4))).AsByte();
            int s = System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.AddAcross(KDot.Dot4(Vector128<int>.Zero, w.AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(16 * ib)))).ToScalar();
            sum += (2 * x.BlockScale(ib) + 1) * (s - Offset * y.Bsums[ib]);
        }

        return sum;
    }
}
