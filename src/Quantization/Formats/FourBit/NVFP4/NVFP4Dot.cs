using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// NVFP4 × Q8_0 (ggml's <c>ggml_vec_dot_nvfp4_q8_0</c>; ggml's <c>vec_dot_type</c> for NVFP4 is Q8_0): one 64-value
/// weight block meets two Q8_0 activation blocks, its sub-blocks 0, 1 the first one's halves and 2, 3 the second's.
/// Each sub-block gives an exact int32 Σ kvalues[q]·y over 16 values and adds <c>(d_y·ue4m3(d_s))·sumi</c>.
/// </summary>
/// <remarks>
/// Every vector path decodes a sub-block's codes into element order (<see cref="NVFP4Kernel.SubBlockCodes"/>), so the
/// activation codes are used as stored. x86 multiplies with the sign trick (|q| and y with q's sign, <c>pmaddubsw</c>,
/// pairs at most 2·12·127, then <c>pmaddwd</c> with ones); AVX-512 has no byte sign instruction and negates y by mask
/// instead; arm64 uses <c>SDOT</c>, or <c>SMULL</c> and pairwise widening adds. Each int32 lane belongs to one sub-block and
/// is scaled by that sub-block's d_y·d; the float result differs from the reference only in how the terms are added.
/// </remarks>
internal sealed class NVFP4Dot : IDotRowsKernel
{
    private const int BlockBytes = BlockNVFP4.Size;
    private const int BlockValues = BlockNVFP4.Values;

    /// <summary>Bytes of one Q8_0 activation block (FP16 d, 32 int8 codes); two of them per weight block.</summary>
    private const int ActivationBytes = 34;

    public static QuantType WeightType => QuantType.NVFP4;

    public static QuantType ActivationType => QuantType.Q8_0;

    /// <summary>The fastest path this process supports.</summary>
    public static DotPath BestPath => s_bestPath;

    private static readonly DotPath s_bestPath = DotPaths.Best(Paths);

    /// <summary>The paths implemented (no VNNI path: the sign trick has no <c>vpdpbusd</c> form).</summary>
    public static ReadOnlySpan<DotPath> Paths => [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    /// <summary>ggml's <c>ggml_vec_dot_nvfp4_q8_0_generic</c>.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        float sumf = 0;
        for (int ib = 0; ib < blocks; ib++)
        {
            ref byte wb = ref Unsafe.Add(ref w, ib * BlockBytes);
            for (int s = 0; s < BlockNVFP4.SubBlocks; s++)
            {
                float d = UE4M3.ToSingle(Unsafe.Add(ref wb, s));
                ref byte ab = ref Unsafe.Add(ref a, (2 * ib + s / 2) * ActivationBytes);
                float dy = ActivationScale(ref ab);
                int sumi = IntegerSumReference(in Unsafe.Add(ref wb, 4 + 8 * s), in Unsafe.Add(ref Codes(ref ab), s % 2 * 16));
                sumf += dy * d * sumi;
            }
        }

        return sumf;
    }

    /// <summary>One sub-block's Σ kvalues[q]·y in ggml's order (<c>sumi_lo + sumi_hi</c>): 8 code bytes, 16 activation codes.</summary>
    public static int IntegerSumReference(ref readonly byte qs, ref readonly sbyte y)
    {
        ReadOnlySpan<sbyte> values = E2M1.Values;
        ref byte q = ref Unsafe.AsRef(in qs);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumiLo = 0, sumiHi = 0;
        for (int j = 0; j < 8; j++)
        {
            byte b = Unsafe.Add(ref q, j);
            sumiLo += Unsafe.Add(ref yr, j) * values[b & 0x0F];
            sumiHi += Unsafe.Add(ref yr, j + 8) * values[b >> 4];
        }

        return sumiLo + sumiHi;
    }

    /// <summary>The dot product on the fastest path.</summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) => DotOn(BestPath, weights, activations, n);

    /// <summary>The dot product on <paramref name="path"/> (which must be supported).</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (!IsSupported(path))
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, "The path does not run on this process.");
        }

        return Row(path, ref MemoryMarshal.GetReference(weights), ref MemoryMarshal.GetReference(activations), blocks, weights, activations, n);
    }

    /// <summary>One dot product per weight row; each equals <see cref="Dot"/> of that row to the bit.</summary>
    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary><see cref="DotRows"/> on <paramref name="path"/>: row after row, each read front to back as one stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (rowBytes < blocks * BlockBytes || (long)rowBytes * (results.Length - 1) + blocks * BlockBytes > weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }

        if (!IsSupported(path))
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, "The path does not run on this process.");
        }

        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        for (int r = 0; r < results.Length; r++)
        {
            results[r] = Row(path, ref Unsafe.Add(ref w, (nint)r * rowBytes), ref a, blocks,
                             weights.Slice(r * rowBytes, blocks * BlockBytes), activations, n);
        }
    }

    /// <summary>Each sub-block's exact Σ kvalues[q]·y on <paramref name="path"/> (the lanes of the vector paths added up), four per weight block.</summary>
    public static void IntegerSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, Span<int> sums)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (!IsSupported(path))
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, "The path does not run on this process.");
        }

        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        for (int ib = 0; ib < blocks; ib++)
        {
            ref byte wb = ref Unsafe.Add(ref w, ib * BlockBytes);
            ref byte a0 = ref Unsafe.Add(ref a, 2 * ib * ActivationBytes);
            ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
            Span<int> s = sums.Slice(4 * ib, 4);
            switch (path)
            {
                case DotPath.Scalar:
                    for (int k = 0; k < 4; k++)
                    {
                        s[k] = IntegerSumReference(in Unsafe.Add(ref wb, 4 + 8 * k), in Unsafe.Add(ref Codes(ref (k < 2 ? ref a0 : ref a1)), k % 2 * 16));
                    }

                    break;
                case DotPath.Avx512:
                    Vector512<int> l512 = Lanes512(ref wb, ref a0, ref a1);
                    for (int k = 0; k < 4; k++)
                    {
                        s[k] = Sum4(l512, k);
                    }

                    break;
                case DotPath.Avx2:
                    Vector256<int> first = Lanes256(ref Unsafe.Add(ref wb, 4), ref a0), second = Lanes256(ref Unsafe.Add(ref wb, 20), ref a1);
                    s[0] = Vector128.Sum(first.GetLower());
                    s[1] = Vector128.Sum(first.GetUpper());
                    s[2] = Vector128.Sum(second.GetLower());
                    s[3] = Vector128.Sum(second.GetUpper());
                    break;
                default:
                    for (int h = 0; h < 2; h++)
                    {
                        ref sbyte y = ref Codes(ref (h == 0 ? ref a0 : ref a1));
                        SubBlocks128(path, ref Unsafe.Add(ref wb, 4 + 16 * h), ref y, out Vector128<int> lo, out Vector128<int> hi);
                        s[2 * h] = Vector128.Sum(lo);
                        s[2 * h + 1] = Vector128.Sum(hi);
                    }

                    break;
            }
        }
    }

    private static int Sum4(Vector512<int> lanes, int k) => Vector128.Sum(k switch
    {
        0 => lanes.GetLower().GetLower(),
        1 => lanes.GetLower().GetUpper(),
        2 => lanes.GetUpper().GetLower(),
        _ => lanes.GetUpper().GetUpper(),
    });

    private static float Row(DotPath path, ref byte w, ref byte a, int blocks, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        path switch
        {
            DotPath.Avx512 => Row512(ref w, ref a, blocks),
            DotPath.Avx2 => Row256(ref w, ref a, blocks),
            DotPath.Ssse3 => Row128(DotPath.Ssse3, ref w, ref a, blocks),
            DotPath.AdvSimdDp => Row128(DotPath.AdvSimdDp, ref w, ref a, blocks),
            DotPath.AdvSimd => Row128(DotPath.AdvSimd, ref w, ref a, blocks),
            _ => DotReference(weights, activations, n),
        };

    /// <summary>Sixteen int32 lanes, four per sub-block in order, and each sub-block's scale d_y·d in the same lanes.</summary>
    private static float Row512(ref byte w, ref byte a, int blocks)
    {
        Vector512<float> acc0 = default, acc1 = default;
        int ib = 0;
        for (; ib + 2 <= blocks; ib += 2)
        {
            acc0 = Block512(ref w, ref a, ib, acc0);
            acc1 = Block512(ref w, ref a, ib + 1, acc1);
        }

        if (ib < blocks)
        {
            acc0 = Block512(ref w, ref a, ib, acc0);
        }

        return Vector512.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block512(ref byte w, ref byte a, int ib, Vector512<float> acc)
    {
        ref byte wb = ref Unsafe.Add(ref w, ib * BlockBytes);
        ref byte a0 = ref Unsafe.Add(ref a, 2 * ib * ActivationBytes);
        ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
        Vector128<float> scales = SubBlockScales(ref wb, ref a0, ref a1);
        Vector512<float> spread = Avx512F.PermuteVar16x32(scales.ToVector256Unsafe().ToVector512Unsafe(),
                                                          Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
        return Vector512.MultiplyAddEstimate(Vector512.ConvertToSingle(Lanes512(ref wb, ref a0, ref a1)), spread, acc);
    }

    /// <summary>AVX-512BW, one weight block against its two activation blocks: lanes 4k..4k+3 sum sub-block k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Lanes512(ref byte wb, ref byte a0, ref byte a1)
    {
        Vector256<byte> packed = Vector256.LoadUnsafe(ref Unsafe.Add(ref wb, 4));
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<ulong> lo = (packed & mask).AsUInt64(), hi = (Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask).AsUInt64();
        Vector256<ulong> even = Avx2.UnpackLow(lo, hi), odd = Avx2.UnpackHigh(lo, hi); // sub-blocks 0 | 2 and 1 | 3
        Vector512<byte> nibbles = Vector512.Create(Avx2.Permute2x128(even, odd, 0x20), Avx2.Permute2x128(even, odd, 0x31)).AsByte();
        Vector512<sbyte> table = Vector512.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                                  0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                                  0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                                  0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
        Vector512<sbyte> q = Avx512BW.Shuffle(table, nibbles.AsSByte());
        Vector512<sbyte> y = Vector512.Create(Vector256.LoadUnsafe(ref Codes(ref a0)), Vector256.LoadUnsafe(ref Codes(ref a1)));
        Vector512<sbyte> signed = Vector512.ConditionalSelect(Vector512.LessThan(q, Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - y, y);
        Vector512<short> pairs = Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(q), signed);
        return Avx512BW.MultiplyAddAdjacent(pairs, Vector512.Create((short)1));
    }

    private static float Row256(ref byte w, ref byte a, int blocks)
    {
        Vector256<float> acc0 = default, acc1 = default;
        for (int ib = 0; ib < blocks; ib++)
        {
            ref byte wb = ref Unsafe.Add(ref w, ib * BlockBytes);
            ref byte a0 = ref Unsafe.Add(ref a, 2 * ib * ActivationBytes);
            ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
            Vector128<float> s = SubBlockScales(ref wb, ref a0, ref a1);
            Vector256<float> s01 = Vector256.Create(Vector128.Create(s.GetElement(0)), Vector128.Create(s.GetElement(1)));
            Vector256<float> s23 = Vector256.Create(Vector128.Create(s.GetElement(2)), Vector128.Create(s.GetElement(3)));
            acc0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Lanes256(ref Unsafe.Add(ref wb, 4), ref a0)), s01, acc0);
            acc1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Lanes256(ref Unsafe.Add(ref wb, 20), ref a1)), s23, acc1);
        }

        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>AVX2, two sub-blocks (16 code bytes) against one activation block: lanes 0..3 the first, 4..7 the second.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Lanes256(ref byte qs, ref byte ab)
    {
        NVFP4Kernel.SubBlockCodes(Vector128.LoadUnsafe(ref qs), out Vector128<byte> first, out Vector128<byte> second);
        Vector256<sbyte> table = Vector256.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                                  0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
        Vector256<sbyte> q = Avx2.Shuffle(table, Vector256.Create(first, second).AsSByte());
        Vector256<sbyte> y = Vector256.LoadUnsafe(ref Codes(ref ab));
        Vector256<short> pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(q), Avx2.Sign(y, q));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    private static float Row128(DotPath path, ref byte w, ref byte a, int blocks)
    {
        Vector128<float> acc0 = default, acc1 = default;
        for (int ib = 0; ib < blocks; ib++)
        {
            ref byte wb = ref Unsafe.Add(ref w, ib * BlockBytes);
            ref byte a0 = ref Unsafe.Add(ref a, 2 * ib * ActivationBytes);
            ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
            Vector128<float> s = SubBlockScales(ref wb, ref a0, ref a1);
            SubBlocks128(path, ref Unsafe.Add(ref wb, 4), ref Codes(ref a0), out Vector128<int> l0, out Vector128<int> l1);
            SubBlocks128(path, ref Unsafe.Add(ref wb, 20), ref Codes(ref a1), out Vector128<int> l2, out Vector128<int> l3);
            acc0 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(l0), Vector128.Create(s.GetElement(0)), acc0);
            acc1 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(l1), Vector128.Create(s.GetElement(1)), acc1);
            acc0 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(l2), Vector128.Create(s.GetElement(2)), acc0);
            acc1 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(l3), Vector128.Create(s.GetElement(3)), acc1);
        }

        return Vector128.Sum(acc0 + acc1);
    }

    /// <summary>Vector128, two sub-blocks (16 code bytes) against the 32 codes of one activation block: four lanes each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SubBlocks128(DotPath path, ref byte qs, ref sbyte y, out Vector128<int> first, out Vector128<int> second)
    {
        NVFP4Kernel.SubBlockCodes(Vector128.LoadUnsafe(ref qs), out Vector128<byte> c0, out Vector128<byte> c1);
        first = Lanes128(path, E2M1.Lookup(c0), Vector128.LoadUnsafe(ref y));
        second = Lanes128(path, E2M1.Lookup(c1), Vector128.LoadUnsafe(ref y, 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Lanes128(DotPath path, Vector128<sbyte> q, Vector128<sbyte> y)
    {
        if (path == DotPath.Ssse3)
        {
            return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(q), Ssse3.Sign(y, q)), Vector128.Create((short)1));
        }

        if (path == DotPath.AdvSimdDp)
        {
            return Dp.DotProduct(Vector128<int>.Zero, q, y);
        }

        Vector128<int> sum = AdvSimd.AddPairwiseWidening(AdvSimd.MultiplyWideningLower(q.GetLower(), y.GetLower()));
        return AdvSimd.AddPairwiseWideningAndAdd(sum, AdvSimd.MultiplyWideningUpper(q, y));
    }

    /// <summary>The four sub-blocks' d_y·ue4m3(d), in the reference's order of the factors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> SubBlockScales(ref byte wb, ref byte a0, ref byte a1)
    {
        float dy0 = ActivationScale(ref a0), dy1 = ActivationScale(ref a1);
        return Vector128.Create(dy0, dy0, dy1, dy1)
             * Vector128.Create(UE4M3.ToSingle(wb), UE4M3.ToSingle(Unsafe.Add(ref wb, 1)), UE4M3.ToSingle(Unsafe.Add(ref wb, 2)), UE4M3.ToSingle(Unsafe.Add(ref wb, 3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref sbyte Codes(ref byte activationBlock) => ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref activationBlock, 2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ActivationScale(ref byte activationBlock) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref activationBlock));

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotLengths.Blocks(weights, activations, n, BlockValues, BlockBytes, 2 * ActivationBytes);
}
