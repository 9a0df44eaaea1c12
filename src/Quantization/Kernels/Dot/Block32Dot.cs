using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels.Dot;

/// <summary>
/// The dot products of a 32-value weight format with Q8_0 / Q8_1 activations, written once for every format: the scalar
/// reference in ggml's generic order and the vector paths of <see cref="DotPath"/>. Every path computes each block's
/// integer Σ q·y exactly; the float result differs from the reference only in the order the per-block terms are added
/// (lane partial sums are converted and scaled one by one, as ggml's SIMD kernels do).
/// </summary>
internal static class Block32Dot<TWeights> where TWeights : IBlock32Weights
{
    private const int Values = 32;

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static readonly DotPath BestPath = SelectPath();

    private static int ActivationBytes => TWeights.HasMin ? 36 : 34;

    /// <summary>Offset of the codes in an activation block (after d, and after s for Q8_1).</summary>
    private static int ActivationQs => TWeights.HasMin ? 4 : 2;

    private static DotPath SelectPath()
    {
        if (AvxVnni.IsSupported)
        {
            return DotPath.AvxVnni;
        }

        if (Avx512BW.IsSupported)
        {
            return DotPath.Avx512;
        }

        if (Avx2.IsSupported)
        {
            return DotPath.Avx2;
        }

        if (Ssse3.IsSupported)
        {
            return DotPath.Ssse3;
        }

        if (Dp.IsSupported)
        {
            return DotPath.AdvSimdDp;
        }

        return AdvSimd.Arm64.IsSupported ? DotPath.AdvSimd : DotPath.Scalar;
    }

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => path switch
    {
        DotPath.Scalar => true,
        DotPath.Avx512 => Avx512BW.IsSupported,
        DotPath.AvxVnni => AvxVnni.IsSupported,
        DotPath.Avx2 => Avx2.IsSupported,
        DotPath.Ssse3 => Ssse3.IsSupported,
        DotPath.AdvSimdDp => Dp.IsSupported,
        DotPath.AdvSimd => AdvSimd.Arm64.IsSupported,
        _ => false,
    };

    /// <summary>ggml's <c>ggml_vec_dot_&lt;w&gt;_q8_&lt;0|1&gt;_generic</c>.</summary>
    public static float Reference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        float sumf = 0;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref byte ab = ref Unsafe.Add(ref a, i * ActivationBytes);
            int sumi = TWeights.IntegerSumReference(in wb, in ActivationCodes(ref ab));
            float term = TWeights.ScaleReference(sumi, Scale(ref wb, 0), Scale(ref ab, 0));
            sumf += TWeights.HasMin ? term + Scale(ref wb, 2) * Scale(ref ab, 2) : term;
        }

        return sumf;
    }

    /// <summary>The dot product on the fastest path.</summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotOn(BestPath, weights, activations, n);

    /// <summary>The dot product on <paramref name="path"/> (which must be supported).</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        Span<float> result = stackalloc float[1];
        Rows(path, ref MemoryMarshal.GetReference(weights), 0, ref MemoryMarshal.GetReference(activations), blocks, result);
        return result[0];
    }

    /// <summary>One dot product per weight row; each equals <see cref="Dot"/> of that row to the bit.</summary>
    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary><see cref="DotRows"/> on <paramref name="path"/> (which must be supported); each result equals <see cref="DotOn"/> of its row.</summary>
    [SkipLocalsInit]
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (rowBytes < blocks * TWeights.BlockBytes || (long)rowBytes * (results.Length - 1) + blocks * TWeights.BlockBytes > weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }

        // Room for each activation block prepared once for all rows (the largest prepared form is 64 bytes).
        const int StackBlocks = 256;
        byte[]? rentedCodes = null;
        float[]? rentedScales = null;
        Span<byte> codes = blocks <= StackBlocks ? stackalloc byte[StackBlocks * 64] : (rentedCodes = ArrayPool<byte>.Shared.Rent(blocks * 64));
        Span<float> scales = blocks <= StackBlocks ? stackalloc float[StackBlocks * 2] : (rentedScales = ArrayPool<float>.Shared.Rent(blocks * 2));
        Rows(path, ref MemoryMarshal.GetReference(weights), rowBytes, ref MemoryMarshal.GetReference(activations), blocks, results, codes, scales);
        if (rentedCodes is not null)
        {
            ArrayPool<byte>.Shared.Return(rentedCodes);
            ArrayPool<float>.Shared.Return(rentedScales!);
        }
    }

    /// <summary>Each block's exact integer Σ q·y on <paramref name="path"/>: the lanes of the vector paths, added up.</summary>
    public static void IntegerSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, Span<int> sums)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref sbyte y = ref ActivationCodes(ref Unsafe.Add(ref a, i * ActivationBytes));
            sums[i] = path switch
            {
                DotPath.Scalar => TWeights.IntegerSumReference(in wb, in y),
                DotPath.Avx512 => Vector256.Sum(Avx512Path.Lanes<TWeights>(in wb, Avx512Path.LoadY<TWeights>(in y))),
                DotPath.AvxVnni => Vector256.Sum(AvxVnniPath.Lanes<TWeights>(in wb, AvxVnniPath.LoadY<TWeights>(in y))),
                DotPath.Avx2 => Vector256.Sum(Avx2Path.Lanes<TWeights>(in wb, Avx2Path.LoadY<TWeights>(in y))),
                DotPath.Ssse3 => Vector128.Sum(Ssse3Path.Lanes<TWeights>(in wb, Ssse3Path.LoadY<TWeights>(in y))),
                DotPath.AdvSimdDp => Vector128.Sum(AdvSimdDpPath.Lanes<TWeights>(in wb, AdvSimdDpPath.LoadY<TWeights>(in y))),
                DotPath.AdvSimd => Vector128.Sum(AdvSimdPath.Lanes<TWeights>(in wb, AdvSimdPath.LoadY<TWeights>(in y))),
                _ => throw new ArgumentOutOfRangeException(nameof(path)),
            };
        }
    }

    /// <summary>1 or 4 rows (<paramref name="results"/>.Length) of <paramref name="blocks"/> blocks each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows(DotPath path, ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results,
                             Span<byte> preparedCodes = default, Span<float> scales = default)
    {
        switch (path)
        {
            case DotPath.Avx512: Rows256<Avx512Path, Vector512<short>>(ref w, rowBytes, ref a, blocks, results, preparedCodes, scales); break;
            case DotPath.AvxVnni: Rows256<AvxVnniPath, OffsetActivations>(ref w, rowBytes, ref a, blocks, results, preparedCodes, scales); break;
            case DotPath.Avx2: Rows256<Avx2Path, OffsetActivations>(ref w, rowBytes, ref a, blocks, results, preparedCodes, scales); break;
            case DotPath.Ssse3: Rows128<Ssse3Path, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.AdvSimdDp: Rows128<AdvSimdDpPath, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.AdvSimd: Rows128<AdvSimdPath, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            default: RowsScalar(ref w, rowBytes, ref a, blocks, results); break;
        }
    }

    /// <summary>
    /// Row after row, each read front to back as one sequential stream (which the hardware prefetcher keeps fed from
    /// DRAM; interleaving several rows' streams measurably starves it), with four accumulators taking blocks in turn so
    /// the float additions do not wait on each other. With more than one row, each activation block's share of the work
    /// (its loaded codes, offset sum and scale) is prepared once for all rows.
    /// </summary>
    private static void Rows256<TPath, TY>(ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results,
                                           Span<byte> preparedCodes, Span<float> scales)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        if (results.Length == 1)
        {
            float min0 = 0, min1 = 0, min2 = 0, min3 = 0;
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            int b = 0;
            for (; b + 4 <= blocks; b += 4)
            {
                acc0 = Block256<TPath, TY>(ref w, ref a, b, acc0, ref min0);
                acc1 = Block256<TPath, TY>(ref w, ref a, b + 1, acc1, ref min1);
                acc2 = Block256<TPath, TY>(ref w, ref a, b + 2, acc2, ref min2);
                acc3 = Block256<TPath, TY>(ref w, ref a, b + 3, acc3, ref min3);
            }

            for (; b < blocks; b++)
            {
                acc0 = Block256<TPath, TY>(ref w, ref a, b, acc0, ref min0);
            }

            results[0] = Vector256.Sum((acc0 + acc1) + (acc2 + acc3)) + ((min0 + min1) + (min2 + min3));
            return;
        }

        Span<TY> codes = MemoryMarshal.Cast<byte, TY>(preparedCodes);
        for (int i = 0; i < blocks; i++)
        {
            ref byte ab = ref Unsafe.Add(ref a, i * ActivationBytes);
            codes[i] = TPath.LoadY<TWeights>(in ActivationCodes(ref ab));
            scales[2 * i] = Scale(ref ab, 0);
            scales[2 * i + 1] = TWeights.HasMin ? Scale(ref ab, 2) : 0;
        }

        ref TY y = ref MemoryMarshal.GetReference(codes);
        ref float dy = ref MemoryMarshal.GetReference(scales);
        for (int r = 0; r < results.Length; r++)
        {
            ref byte row = ref Unsafe.Add(ref w, r * rowBytes);
            float min0 = 0, min1 = 0, min2 = 0, min3 = 0;
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            int b = 0;
            for (; b + 4 <= blocks; b += 4)
            {
                acc0 = Prepared256<TPath, TY>(ref row, ref y, ref dy, b, acc0, ref min0);
                acc1 = Prepared256<TPath, TY>(ref row, ref y, ref dy, b + 1, acc1, ref min1);
                acc2 = Prepared256<TPath, TY>(ref row, ref y, ref dy, b + 2, acc2, ref min2);
                acc3 = Prepared256<TPath, TY>(ref row, ref y, ref dy, b + 3, acc3, ref min3);
            }

            for (; b < blocks; b++)
            {
                acc0 = Prepared256<TPath, TY>(ref row, ref y, ref dy, b, acc0, ref min0);
            }

            results[r] = Vector256.Sum((acc0 + acc1) + (acc2 + acc3)) + ((min0 + min1) + (min2 + min3));
        }

    }

    /// <summary>One block of one row from the prepared activation block: the same operations as <see cref="Block256"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Prepared256<TPath, TY>(ref byte row, ref TY y, ref float scales, int i, Vector256<float> acc, ref float min)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        ref byte wb = ref Unsafe.Add(ref row, i * TWeights.BlockBytes);
        if (TWeights.HasMin)
        {
            min += Scale(ref wb, 2) * Unsafe.Add(ref scales, 2 * i + 1);
        }

        return Accumulate256<TPath, TY>(ref wb, Unsafe.Add(ref y, i), Vector256.Create(Unsafe.Add(ref scales, 2 * i)), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block256<TPath, TY>(ref byte row, ref byte a, int i, Vector256<float> acc, ref float min)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        ref byte ab = ref Unsafe.Add(ref a, i * ActivationBytes);
        ref byte wb = ref Unsafe.Add(ref row, i * TWeights.BlockBytes);
        if (TWeights.HasMin)
        {
            min += Scale(ref wb, 2) * Scale(ref ab, 2);
        }

        return Accumulate256<TPath, TY>(ref wb, TPath.LoadY<TWeights>(in ActivationCodes(ref ab)), Vector256.Create(Scale(ref ab, 0)), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Accumulate256<TPath, TY>(ref byte block, TY y, Vector256<float> dy, Vector256<float> acc)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        // Broadcast d_x straight from the table, then d_x·d_y lane-wise: the same product as the scalar one.
        Vector256<int> lanes = TPath.Lanes<TWeights>(in block, y);
        return Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(lanes), Vector256.Create(Scale(ref block, 0)) * dy, acc);
    }

    private static void Rows128<TPath, TY>(ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results)
        where TPath : IPath128<TY> where TY : struct
    {
        for (int r = 0; r < results.Length; r++)
        {
            ref byte row = ref Unsafe.Add(ref w, r * rowBytes);
            Vector128<float> acc = default;
            float min = 0;
            for (int i = 0; i < blocks; i++)
            {
                ref byte ab = ref Unsafe.Add(ref a, i * ActivationBytes);
                ref byte wb = ref Unsafe.Add(ref row, i * TWeights.BlockBytes);
                Vector128<int> lanes = TPath.Lanes<TWeights>(in wb, TPath.LoadY<TWeights>(in ActivationCodes(ref ab)));
                acc = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(lanes), Vector128.Create(Scale(ref wb, 0) * Scale(ref ab, 0)), acc);
                if (TWeights.HasMin)
                {
                    min += Scale(ref wb, 2) * Scale(ref ab, 2);
                }
            }

            results[r] = Vector128.Sum(acc) + min;
        }
    }

    private static void RowsScalar(ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results)
    {
        for (int r = 0; r < results.Length; r++)
        {
            int bytes = blocks * TWeights.BlockBytes;
            results[r] = Reference(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref w, r * rowBytes), bytes),
                                   MemoryMarshal.CreateReadOnlySpan(ref a, blocks * ActivationBytes), blocks * Values);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref sbyte ActivationCodes(ref byte block) => ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref block, ActivationQs));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(ref byte block, int offset) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref block, offset)));

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        if (n < 0 || n % Values != 0)
        {
            ThrowHelper.ThrowArgument(nameof(n), $"{n} is not a non-negative multiple of {Values}.");
        }

        int blocks = n / Values;
        if (weights.Length < (long)blocks * TWeights.BlockBytes)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"Weights have {weights.Length} bytes; {n} values take {(long)blocks * TWeights.BlockBytes}.");
        }

        if (activations.Length < (long)blocks * ActivationBytes)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"Activations have {activations.Length} bytes; {n} values take {(long)blocks * ActivationBytes}.");
        }

        return blocks;
    }
}
