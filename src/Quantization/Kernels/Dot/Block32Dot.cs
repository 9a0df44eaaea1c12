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

    /// <summary>Every path of <see cref="DotPath"/> is implemented.</summary>
    public static ReadOnlySpan<DotPath> Paths =>
        [DotPath.AvxVnni, DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    private static DotPath SelectPath() => DotPaths.Best(Paths);

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

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
            float term = TWeights.ScaleReference(sumi, TWeights.WeightScale(in wb), Scale(ref ab, 0));
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
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
                DotPath.Avx512 when TWeights.Avx2LanesOnAvx512 => Vector256.Sum(Avx2Path.Lanes<TWeights>(in wb, Avx2Path.LoadY<TWeights>(in y))),
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
            case DotPath.Avx512 when TWeights.Avx2LanesOnAvx512: Rows256<Avx2Path, OffsetActivations>(ref w, rowBytes, ref a, blocks, results, preparedCodes, scales); break;
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
    /// Four rows at a time: each activation block (its loaded codes, offset sum and scale, prepared once per tile when
    /// there is more than one row) is used by four rows in turn, and each row keeps one float accumulator. Every row adds
    /// its blocks in pairs, <c>acc += (c₀·s₀ + c₁·s₁)</c> lane-wise, whether it runs alone or beside three others, so a
    /// row's result does not depend on how many rows share the call. Each group of four prefetches the next group's rows
    /// as it goes, since the rows are read side by side rather than as one sequential stream.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static void Rows256<TPath, TY>(ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results,
                                           Span<byte> preparedCodes, Span<float> scales)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        if (results.Length == 1)
        {
            results[0] = Row256<TPath, TY, RawActivations>(ref w, ref a, ref Unsafe.NullRef<TY>(), ref Unsafe.NullRef<float>(), blocks);
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
        int r = 0;
        for (; r + 4 <= results.Length; r += 4)
        {
            Rows256x4<TPath, TY>(ref Unsafe.Add(ref w, (nint)r * rowBytes), rowBytes, ref y, ref dy, blocks, results.Slice(r, 4),
                                 prefetchNext: Sse.IsSupported && r + 8 <= results.Length);
        }

        for (; r < results.Length; r++)
        {
            results[r] = Row256<TPath, TY, PreparedActivations>(ref Unsafe.Add(ref w, (nint)r * rowBytes), ref a, ref y, ref dy, blocks);
        }
    }

    /// <summary>Four rows from the prepared activation blocks, each in the order of <see cref="Row256"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static unsafe void Rows256x4<TPath, TY>(ref byte w, nint rowBytes, ref TY y, ref float dy, int blocks, Span<float> results,
                                                  bool prefetchNext)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float min0 = 0, min1 = 0, min2 = 0, min3 = 0;
        ref byte wb = ref w;
        nint b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            TY y0 = Unsafe.Add(ref y, b), y1 = Unsafe.Add(ref y, b + 1);
            Vector256<float> dy0 = Vector256.Create(Unsafe.Add(ref dy, 2 * b)), dy1 = Vector256.Create(Unsafe.Add(ref dy, 2 * b + 2));
            acc0 = Pair256<TPath, TY>(ref wb, y0, y1, dy0, dy1, acc0);
            acc1 = Pair256<TPath, TY>(ref Unsafe.Add(ref wb, rowBytes), y0, y1, dy0, dy1, acc1);
            acc2 = Pair256<TPath, TY>(ref Unsafe.Add(ref wb, 2 * rowBytes), y0, y1, dy0, dy1, acc2);
            acc3 = Pair256<TPath, TY>(ref Unsafe.Add(ref wb, 3 * rowBytes), y0, y1, dy0, dy1, acc3);
            if (TWeights.HasMin)
            {
                float s0 = Unsafe.Add(ref dy, 2 * b + 1), s1 = Unsafe.Add(ref dy, 2 * b + 3);
                min0 += MinPair(ref wb, s0, s1);
                min1 += MinPair(ref Unsafe.Add(ref wb, rowBytes), s0, s1);
                min2 += MinPair(ref Unsafe.Add(ref wb, 2 * rowBytes), s0, s1);
                min3 += MinPair(ref Unsafe.Add(ref wb, 3 * rowBytes), s0, s1);
            }

            if (prefetchNext)
            {
                // The next four rows, one group ahead (into L2): four interleaved row streams alone starve the
                // hardware prefetcher when the matrix comes from DRAM.
                Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 4 * rowBytes)));
                Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 5 * rowBytes)));
                Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 6 * rowBytes)));
                Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 7 * rowBytes)));
                if (2 * TWeights.BlockBytes > 64)
                {
                    // Two blocks span more than a line (Q8_0): with one address per step some lines would be passed
                    // over; a second one half a line on leaves no gap of 64 bytes and stays inside the two blocks.
                    Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 4 * rowBytes + 32)));
                    Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 5 * rowBytes + 32)));
                    Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 6 * rowBytes + 32)));
                    Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref wb, 7 * rowBytes + 32)));
                }
            }

            wb = ref Unsafe.Add(ref wb, 2 * TWeights.BlockBytes);
        }

        if (b < blocks)
        {
            TY y0 = Unsafe.Add(ref y, b);
            Vector256<float> dy0 = Vector256.Create(Unsafe.Add(ref dy, 2 * b));
            acc0 = Single256<TPath, TY>(ref wb, y0, dy0, acc0);
            acc1 = Single256<TPath, TY>(ref Unsafe.Add(ref wb, rowBytes), y0, dy0, acc1);
            acc2 = Single256<TPath, TY>(ref Unsafe.Add(ref wb, 2 * rowBytes), y0, dy0, acc2);
            acc3 = Single256<TPath, TY>(ref Unsafe.Add(ref wb, 3 * rowBytes), y0, dy0, acc3);
            if (TWeights.HasMin)
            {
                float s0 = Unsafe.Add(ref dy, 2 * b + 1);
                min0 += Scale(ref wb, 2) * s0;
                min1 += Scale(ref Unsafe.Add(ref wb, rowBytes), 2) * s0;
                min2 += Scale(ref Unsafe.Add(ref wb, 2 * rowBytes), 2) * s0;
                min3 += Scale(ref Unsafe.Add(ref wb, 3 * rowBytes), 2) * s0;
            }
        }

        results[0] = Vector256.Sum(acc0) + min0;
        results[1] = Vector256.Sum(acc1) + min1;
        results[2] = Vector256.Sum(acc2) + min2;
        results[3] = Vector256.Sum(acc3) + min3;
    }

    /// <summary>One row, from the raw activation blocks (<see cref="RawActivations"/>) or the prepared ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row256<TPath, TY, TSource>(ref byte w, ref byte a, ref TY y, ref float dy, int blocks)
        where TPath : IPath256<TY> where TY : unmanaged where TSource : struct
    {
        Vector256<float> acc = default;
        float min = 0;
        ref byte wb = ref w;
        nint b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            TY y0, y1;
            float d0, d1, s0 = 0, s1 = 0;
            if (typeof(TSource) == typeof(RawActivations))
            {
                ref byte a0 = ref Unsafe.Add(ref a, b * ActivationBytes);
                ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
                y0 = TPath.LoadY<TWeights>(in ActivationCodes(ref a0));
                y1 = TPath.LoadY<TWeights>(in ActivationCodes(ref a1));
                d0 = Scale(ref a0, 0);
                d1 = Scale(ref a1, 0);
                if (TWeights.HasMin)
                {
                    s0 = Scale(ref a0, 2);
                    s1 = Scale(ref a1, 2);
                }
            }
            else
            {
                y0 = Unsafe.Add(ref y, b);
                y1 = Unsafe.Add(ref y, b + 1);
                d0 = Unsafe.Add(ref dy, 2 * b);
                d1 = Unsafe.Add(ref dy, 2 * b + 2);
                s0 = Unsafe.Add(ref dy, 2 * b + 1);
                s1 = Unsafe.Add(ref dy, 2 * b + 3);
            }

            acc = Pair256<TPath, TY>(ref wb, y0, y1, Vector256.Create(d0), Vector256.Create(d1), acc);
            if (TWeights.HasMin)
            {
                min += MinPair(ref wb, s0, s1);
            }

            wb = ref Unsafe.Add(ref wb, 2 * TWeights.BlockBytes);
        }

        if (b < blocks)
        {
            TY y0;
            float d0, s0;
            if (typeof(TSource) == typeof(RawActivations))
            {
                ref byte a0 = ref Unsafe.Add(ref a, b * ActivationBytes);
                y0 = TPath.LoadY<TWeights>(in ActivationCodes(ref a0));
                d0 = Scale(ref a0, 0);
                s0 = TWeights.HasMin ? Scale(ref a0, 2) : 0;
            }
            else
            {
                y0 = Unsafe.Add(ref y, b);
                d0 = Unsafe.Add(ref dy, 2 * b);
                s0 = Unsafe.Add(ref dy, 2 * b + 1);
            }

            acc = Single256<TPath, TY>(ref wb, y0, Vector256.Create(d0), acc);
            if (TWeights.HasMin)
            {
                min += Scale(ref wb, 2) * s0;
            }
        }

        return Vector256.Sum(acc) + min;
    }

    /// <summary>acc + (c₀·(d_x₀·d_y₀) + c₁·(d_x₁·d_y₁)) for two consecutive blocks of one row (c: the converted int32 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pair256<TPath, TY>(ref byte wb, TY y0, TY y1, Vector256<float> dy0, Vector256<float> dy1, Vector256<float> acc)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        ref byte wb1 = ref Unsafe.Add(ref wb, TWeights.BlockBytes);
        Vector256<float> t = Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in wb, y0)) * (Vector256.Create(TWeights.WeightScale(in wb)) * dy0);
        t = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in wb1, y1)), Vector256.Create(TWeights.WeightScale(in wb1)) * dy1, t);
        return acc + t;
    }

    /// <summary>acc + c·(d_x·d_y) for a row's last block when the count is odd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Single256<TPath, TY>(ref byte wb, TY y, Vector256<float> dy, Vector256<float> acc)
        where TPath : IPath256<TY> where TY : unmanaged =>
        Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in wb, y)), Vector256.Create(TWeights.WeightScale(in wb)) * dy, acc);

    /// <summary>m₀·s₀ + m₁·s₁ of two consecutive blocks of a type-1 row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MinPair(ref byte wb, float s0, float s1) =>
        Scale(ref wb, 2) * s0 + Scale(ref Unsafe.Add(ref wb, TWeights.BlockBytes), 2) * s1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
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
                acc = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(lanes), Vector128.Create(TWeights.WeightScale(in wb) * Scale(ref ab, 0)), acc);
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

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotLengths.Blocks(weights, activations, n, Values, TWeights.BlockBytes, ActivationBytes);
}
