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
/// (|S| ≤ 9·15·127·256 &lt; 2^23, so both are exact floats).
/// </summary>
internal readonly struct IQ1_MDot : IKDotPaths<BlockIQ1_M>, IKScaledBlocks<BlockIQ1_M>
{
    /// <summary>8·grid + 1 per byte for every point of IQ1_S's grid (a −0.125 shift subtracts 2); pinned, 16 KiB.</summary>
    private static readonly ulong[] s_codes = ShiftedCodes();

    public static QuantType WeightType => QuantType.IQ1_M;

    public static QuantType ActivationType => QuantType.Q8_K;

    public static int BlockBytes => BlockIQ1_M.Size;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KDot.Dot<IQ1_MDot, BlockIQ1_M>(weights, activations, n);

    public static ReadOnlySpan<DotPath> Paths => KDot.Paths;

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KDot.DotOn<IQ1_MDot, BlockIQ1_M>(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        KDot.DotRows<IQ1_MDot, BlockIQ1_M>(weights, rowBytes, activations, n, results);

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

    public static ushort D(in BlockIQ1_M x) => x.D;

    public static unsafe float Dot256(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot256<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    public static unsafe float Dot128(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot128<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    public static unsafe float Dot512(BlockIQ1_M* x, BlockQ8_K* y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDot512<IQ1_MDot, BlockIQ1_M>(x, y, nb);

    public static float DotNeon(ref readonly BlockIQ1_M x, ref readonly BlockQ8_K y, int nb) =>
        IQ1_MReference.Delta * KDot.ScaledDotNeon<IQ1_MDot, BlockIQ1_M>(in x, in y, nb);

    private static ulong[] ShiftedCodes()
    {
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        ulong[] codes = GC.AllocateUninitializedArray<ulong>(grid.Length, pinned: true);
        for (int k = 0; k < grid.Length; ++k)
        {
            ulong v = 0;
            for (int j = 0; j < 8; ++j)
            {
                v |= (ulong)(byte)(8 * (sbyte)(grid[k] >> (8 * j)) + 1) << (8 * j);
            }

            codes[k] = v;
        }

        return codes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ulong* Codes() => (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s_codes));

    /// <summary>
    /// The 8·grid + 1 codes of the four groups of 32 values <c>32c..32c+31</c>: their low index bytes are the four bytes of
    /// <paramref name="qs4"/>, their high three bits the nibbles of <paramref name="qh2"/> (bits 0–2 and 4–6 of each byte).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<sbyte> Codes256(ulong* codes, uint qs4, uint qh2) =>
        Vector256.Create(
            codes[(qs4 & 0xFF) | ((qh2 << 8) & 0x700)],
            codes[((qs4 >> 8) & 0xFF) | ((qh2 << 4) & 0x700)],
            codes[((qs4 >> 16) & 0xFF) | (qh2 & 0x700)],
            codes[(qs4 >> 24) | ((qh2 >> 4) & 0x700)]).AsSByte();

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

    /// <summary>0xFF in every byte of a group with a −0.125 shift, for the 32 values 32c..32c+31 (shift bits 3 and 7 of qh[g/2]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> NegativeShifts256(Vector256<byte> qh, int c)
    {
        Vector256<byte> spread = Vector256.Create(Vector128.Create((byte)0), Vector128.Create((byte)1)) + Vector256.Create((byte)(2 * c));
        Vector256<byte> bits = Vector256.Create(0x0808_0808_0808_0808UL, 0x8080_8080_8080_8080UL, 0x0808_0808_0808_0808UL, 0x8080_8080_8080_8080UL).AsByte();
        return Avx2.CompareEqual(Avx2.Shuffle(qh, spread) & bits, bits).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ1_M* x, BlockQ8_K* y)
    {
        ulong* codes = Codes();
        uint* qs = (uint*)&x->Qs;
        ushort* qhWords = (ushort*)&x->Qh;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<byte> qh = Vector256.Create(Sse2.LoadVector128((byte*)qhWords));
        Vector256<byte> scales = Scales256(x).AsByte();
        Vector256<byte> scaleIndex = Vector256.Create((ushort)0x0100).AsByte();
        Vector256<int> acc = Vector256<int>.Zero;
        for (int c = 0; c < 8; ++c)
        {
            Vector256<sbyte> negative = NegativeShifts256(qh, c);
            Vector256<sbyte> w = Codes256(codes, qs[c], qhWords[c]) + negative + negative;
            Vector256<short> ls = Avx2.Shuffle(scales, scaleIndex).AsInt16();
            scaleIndex += Vector256.Create((byte)2);
            acc = KDot.MulAdd(acc, Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(q8 + 32 * c), w), ls);
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ1_M* x, BlockQ8_K* y)
    {
        ulong* codes = Codes();
        uint* qs = (uint*)&x->Qs;
        ushort* qhWords = (ushort*)&x->Qh;
        sbyte* q8 = (sbyte*)&y->Qs;

        // 128-bit lane L of the 64 values 64p..64p+63 is block 4p + L: with every lane holding (w0 w1 w2 w3), lane L's
        // multiplier moves bits 3L..3L+2 to the top, and lane p of each 128 bits is then the scale a shuffle broadcasts.
        Vector512<ushort> words = Vector512.Create(*(ulong*)&x->Scales).AsUInt16();
        Vector512<ushort> toTop = Vector512.Create(
            Vector256.Create(Vector128.Create((ushort)(1 << 13)), Vector128.Create((ushort)(1 << 10))),
            Vector256.Create(Vector128.Create((ushort)(1 << 7)), Vector128.Create((ushort)(1 << 4))));
        Vector512<ushort> field = Vector512.ShiftRightLogical(words * toTop, 13);
        Vector512<byte> scales = (field + field + Vector512<ushort>.One).AsByte();
        Vector512<byte> scaleIndex = Vector512.Create((ushort)0x0100).AsByte();

        Vector512<byte> qh = Vector512.Create(Vector256.Create(Sse2.LoadVector128((byte*)qhWords)));
        Vector512<byte> spread = Vector512.Create(Vector256.Create(Vector128.Create((byte)0), Vector128.Create((byte)1)), Vector256.Create(Vector128.Create((byte)2), Vector128.Create((byte)3)));
        Vector512<byte> bits = Vector512.Create(Vector128.Create(0x0808_0808_0808_0808UL, 0x8080_8080_8080_8080UL)).AsByte();

        Vector512<int> acc = Vector512<int>.Zero;
        for (int p = 0; p < 4; ++p)
        {
            Vector512<sbyte> negative = Vector512.Equals(Avx512BW.Shuffle(qh, spread) & bits, bits).AsSByte();
            spread += Vector512.Create((byte)4);
            Vector512<sbyte> w = Vector512.Create(Codes256(codes, qs[2 * p], qhWords[2 * p]), Codes256(codes, qs[2 * p + 1], qhWords[2 * p + 1])) + negative + negative;
            Vector512<short> ls = Avx512BW.Shuffle(scales, scaleIndex).AsInt16();
            scaleIndex += Vector512.Create((byte)2);
            Vector512<sbyte> a = Avx512BW.LoadVector512(q8 + 64 * p);
            acc += KDot.MulAdd(Avx512BW.Abs(w), Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), -a, a), ls);
        }

        return acc;
    }

    /// <summary>The SSSE3/SSE4.1 super-block sums: one 16-value block (two grid points) per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ1_M* x, BlockQ8_K* y)
    {
        ulong* codes = Codes();
        byte* qs = (byte*)&x->Qs;
        byte* qhBytes = (byte*)&x->Qh;
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<byte> qh = Sse2.LoadVector128(qhBytes);
        Vector128<byte> bits = Vector128.Create(0x0808_0808_0808_0808UL, 0x8080_8080_8080_8080UL).AsByte();
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
                uint hb = qhBytes[ib];
                Vector128<sbyte> negative = Sse2.CompareEqual(Ssse3.Shuffle(qh, Vector128.Create((byte)ib)) & bits, bits).AsSByte();
                Vector128<sbyte> w = Vector128.Create(codes[qs[2 * ib] | ((hb << 8) & 0x700)], codes[qs[2 * ib + 1] | ((hb << 4) & 0x700)]).AsSByte() + negative + negative;
                acc += KDot.MulAdd(Ssse3.Abs(w), Ssse3.Sign(Sse2.LoadVector128(q8 + 16 * ib), w), KDot.Broadcast(scales8, k));
            }
        }

        return acc;
    }

    /// <summary>The AdvSimd super-block sum (<see cref="KDot.Dot4"/>: SDOT where the CPU has it): one 16-value block per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ1_M x, ref readonly BlockQ8_K y)
    {
        ref ulong codes = ref MemoryMarshal.GetArrayDataReference(s_codes);
        ref readonly sbyte q8 = ref y.Qs[0];
        Vector128<byte> bits = Vector128.Create(0x0808_0808_0808_0808UL, 0x8080_8080_8080_8080UL).AsByte();
        int sum = 0;
        for (int ib = 0; ib < 16; ++ib)
        {
            byte hb = x.Qh[ib];
            Vector128<sbyte> negative = Vector128.Equals(Vector128.Create(hb) & bits, bits).AsSByte();
            Vector128<sbyte> w = Vector128.Create(Unsafe.Add(ref codes, x.GridIndex(2 * ib)), Unsafe.Add(ref codes, x.GridIndex(2 * ib + 1))).AsSByte() + negative + negative;
            int s = System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.AddAcross(KDot.Dot4(Vector128<int>.Zero, w, Vector128.LoadUnsafe(in q8, (nuint)(16 * ib)))).ToScalar();
            sum += (2 * x.BlockScale(ib) + 1) * s;
        }

        return sum;
    }
}
