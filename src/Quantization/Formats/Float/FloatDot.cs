using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// The fused dot of F32, F16 and BF16 weights with float32 activations (docs/formats.md#float-dot-products): weights
/// widened exactly in registers (<see cref="IFloatWeights"/>), multiplied and added in float32, four rows per pass so
/// that each activation vector is loaded once for four weight streams.
/// </summary>
/// <remarks>
/// Each row has one accumulator vector, added to in column order whether the row runs in a group of four or alone, then
/// summed across lanes (<c>Vector*.Sum</c>) and followed by the scalar tail: a result depends only on its row, the
/// activations and the path, never on the grouping or the thread count. A row holding an F16 infinity or NaN takes the
/// reference instead (<see cref="IFloatWeights.IsFinite(Vector128{ushort})"/>). The vector paths multiply-add with
/// <c>MultiplyAddEstimate</c> (fused where the CPU has FMA). The scalar path is the reference: products and sum in
/// double, rounded once.
/// </remarks>
internal static unsafe class FloatDot<TWeights> where TWeights : IFloatWeights
{
    private const int RowGroup = 4;

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static readonly DotPath BestPath = DotPaths.Best(Paths);

    /// <summary>AVX-512F, AVX2, SSE4.1 and NEON (the last two through the same Vector128 code), and the scalar reference.</summary>
    public static ReadOnlySpan<DotPath> Paths => [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimd, DotPath.Scalar];

    /// <summary>Σ w[i]·x[i] with exact products summed in double, rounded to float once.</summary>
    public static float Reference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        CheckLengths(weights, activations, n, 1, n * TWeights.ElementBytes);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ReadOnlySpan<float> x = MemoryMarshal.Cast<byte, float>(activations);
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += (double)TWeights.ToSingle(ref w, i) * x[i];
        }

        return (float)sum;
    }

    /// <summary>The dot product on the fastest path.</summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotOn(BestPath, weights, activations, n);

    /// <summary>The dot product on <paramref name="path"/> (which must be supported).</summary>
    [SkipLocalsInit]
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        Span<float> result = stackalloc float[1];
        DotRowsOn(path, weights, n * TWeights.ElementBytes, activations, n, result);
        return result[0];
    }

    /// <summary>One dot product per weight row; each equals <see cref="Dot"/> of that row to the bit.</summary>
    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary><see cref="DotRows"/> on <paramref name="path"/> (which must be supported); each result equals <see cref="DotOn"/> of its row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        CheckLengths(weights, activations, n, results.Length, rowBytes);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref float x = ref Unsafe.As<byte, float>(ref MemoryMarshal.GetReference(activations));
        switch (path)
        {
            case DotPath.Avx512:
                Rows<Width512, Vector512<float>, Vector512<int>, Vector256<ushort>>(ref w, rowBytes, ref x, n, results);
                break;
            case DotPath.Avx2:
                Rows<Width256, Vector256<float>, Vector256<int>, Vector128<ushort>>(ref w, rowBytes, ref x, n, results);
                break;
            case DotPath.Ssse3 or DotPath.AdvSimd:
                Rows128(ref w, rowBytes, ref x, n, results);
                break;
            default:
                for (int r = 0; r < results.Length; r++)
                {
                    results[r] = Reference(weights.Slice(r * rowBytes, n * TWeights.ElementBytes), activations, n);
                }

                break;
        }
    }

    private static void CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, int rows, int rowBytes)
    {
        if (n < 0 || (long)n * sizeof(float) > activations.Length)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{n} values do not fit {activations.Length} activation bytes.");
        }

        if (rowBytes < (long)n * TWeights.ElementBytes || (rows > 0 && (long)rowBytes * (rows - 1) + (long)n * TWeights.ElementBytes > weights.Length))
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }
    }

    /// <summary>
    /// A row's result from its lane sum: plus the scalar tail (columns <paramref name="end"/> … n − 1, in column order);
    /// or, where the row held a value the vector widening does not carry (an F16 infinity or NaN) or the scaled
    /// activations overflowed, the reference.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(float lanes, bool finite, ref byte w, ref float x, int end, int n)
    {
        // With scaled activations an overflowing x·scale (|x| ≥ 2¹⁶ for F16) makes the lane sum infinite or NaN.
        if (!finite || (TWeights.ActivationScale != 1 && !float.IsFinite(lanes)))
        {
            return NonFinite(ref w, ref x, n);
        }

        float sum = 0;
        for (int i = end; i < n; i++)
        {
            sum += TWeights.ToSingle(ref w, i) * Unsafe.Add(ref x, i);
        }

        return lanes + sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float NonFinite(ref byte w, ref float x, int n) =>
        Reference(MemoryMarshal.CreateReadOnlySpan(ref w, n * TWeights.ElementBytes),
                  MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref x, n)), n);

    /// <summary>The rows on Vector512 (<typeparamref name="TWidth"/> = <see cref="Width512"/>) or Vector256 (<see cref="Width256"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TWidth, TFloat, TInt, TMask>(ref byte w, nint rowBytes, ref float x, int n, Span<float> results)
        where TWidth : struct, ISimdWidth<TFloat, TInt>
        where TFloat : struct
        where TInt : struct
        where TMask : struct
    {
        int end = n & ~(TWidth.Lanes - 1);
        int r = 0;
        for (; r <= results.Length - RowGroup; r += RowGroup)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            ref byte w1 = ref Unsafe.Add(ref w0, rowBytes);
            ref byte w2 = ref Unsafe.Add(ref w1, rowBytes);
            ref byte w3 = ref Unsafe.Add(ref w2, rowBytes);
            TFloat a0 = default, a1 = default, a2 = default, a3 = default;
            TMask m0 = default, m1 = default, m2 = default, m3 = default;
            bool prefetch = r + 2 * RowGroup <= results.Length;
            for (nint i = 0; i < end; i += TWidth.Lanes)
            {
                if (prefetch)
                {
                    PrefetchNextGroup(ref w3, rowBytes, i);
                }

                TFloat xv = Activations<TWidth, TFloat, TInt>(ref x, i);
                a0 = TWidth.MultiplyAddEstimate(Load<TFloat, TMask>(ref w0, i, ref m0), xv, a0);
                a1 = TWidth.MultiplyAddEstimate(Load<TFloat, TMask>(ref w1, i, ref m1), xv, a1);
                a2 = TWidth.MultiplyAddEstimate(Load<TFloat, TMask>(ref w2, i, ref m2), xv, a2);
                a3 = TWidth.MultiplyAddEstimate(Load<TFloat, TMask>(ref w3, i, ref m3), xv, a3);
            }

            // Lane sums first, so that no vector stays live across the scalar tails.
            float s0 = TWidth.Sum(a0), s1 = TWidth.Sum(a1), s2 = TWidth.Sum(a2), s3 = TWidth.Sum(a3);
            results[r] = Finish(s0, IsFinite(m0), ref w0, ref x, end, n);
            results[r + 1] = Finish(s1, IsFinite(m1), ref w1, ref x, end, n);
            results[r + 2] = Finish(s2, IsFinite(m2), ref w2, ref x, end, n);
            results[r + 3] = Finish(s3, IsFinite(m3), ref w3, ref x, end, n);
        }

        for (; r < results.Length; r++)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            TFloat a0 = default;
            TMask m0 = default;
            for (nint i = 0; i < end; i += TWidth.Lanes)
            {
                a0 = TWidth.MultiplyAddEstimate(Load<TFloat, TMask>(ref w0, i, ref m0), Activations<TWidth, TFloat, TInt>(ref x, i), a0);
            }

            results[r] = Finish(TWidth.Sum(a0), IsFinite(m0), ref w0, ref x, end, n);
        }
    }

    /// <summary><see cref="IFloatWeights.Load512"/> or <see cref="IFloatWeights.Load256"/> by the vector type (the type test folds away).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat Load<TFloat, TMask>(ref byte row, nint index, ref TMask magnitudes)
        where TFloat : struct
        where TMask : struct
    {
        if (typeof(TFloat) == typeof(Vector512<float>))
        {
            return Unsafe.BitCast<Vector512<float>, TFloat>(TWeights.Load512(ref row, index, ref Unsafe.As<TMask, Vector256<ushort>>(ref magnitudes)));
        }

        return Unsafe.BitCast<Vector256<float>, TFloat>(TWeights.Load256(ref row, index, ref Unsafe.As<TMask, Vector128<ushort>>(ref magnitudes)));
    }

    /// <summary><see cref="IFloatWeights.IsFinite(Vector256{ushort})"/> or its Vector128 overload by the mask type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsFinite<TMask>(TMask magnitudes)
        where TMask : struct =>
        typeof(TMask) == typeof(Vector256<ushort>)
            ? TWeights.IsFinite(Unsafe.BitCast<TMask, Vector256<ushort>>(magnitudes))
            : TWeights.IsFinite(Unsafe.BitCast<TMask, Vector128<ushort>>(magnitudes));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows128(ref byte w, nint rowBytes, ref float x, int n, Span<float> results)
    {
        int end = n & ~7;
        int r = 0;
        for (; r <= results.Length - RowGroup; r += RowGroup)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            ref byte w1 = ref Unsafe.Add(ref w0, rowBytes);
            ref byte w2 = ref Unsafe.Add(ref w1, rowBytes);
            ref byte w3 = ref Unsafe.Add(ref w2, rowBytes);
            Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector128<ushort> m0 = default, m1 = default, m2 = default, m3 = default;
            for (nint i = 0; i < end; i += 8)
            {
                Vector128<float> xl = Activations128(ref x, i);
                Vector128<float> xh = Activations128(ref x, i + 4);
                a0 = Step128(TWeights.Load128(ref w0, i, ref m0), xl, xh, a0);
                a1 = Step128(TWeights.Load128(ref w1, i, ref m1), xl, xh, a1);
                a2 = Step128(TWeights.Load128(ref w2, i, ref m2), xl, xh, a2);
                a3 = Step128(TWeights.Load128(ref w3, i, ref m3), xl, xh, a3);
            }

            float s0 = Vector128.Sum(a0), s1 = Vector128.Sum(a1), s2 = Vector128.Sum(a2), s3 = Vector128.Sum(a3);
            results[r] = Finish(s0, TWeights.IsFinite(m0), ref w0, ref x, end, n);
            results[r + 1] = Finish(s1, TWeights.IsFinite(m1), ref w1, ref x, end, n);
            results[r + 2] = Finish(s2, TWeights.IsFinite(m2), ref w2, ref x, end, n);
            results[r + 3] = Finish(s3, TWeights.IsFinite(m3), ref w3, ref x, end, n);
        }

        for (; r < results.Length; r++)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            Vector128<float> a0 = default;
            Vector128<ushort> m0 = default;
            for (nint i = 0; i < end; i += 8)
            {
                a0 = Step128(TWeights.Load128(ref w0, i, ref m0), Activations128(ref x, i),
                             Activations128(ref x, i + 4), a0);
            }

            results[r] = Finish(Vector128.Sum(a0), TWeights.IsFinite(m0), ref w0, ref x, end, n);
        }
    }

    /// <summary>
    /// Into L2, the line of each row of the next group at the column this group has reached (once per 64 bytes): four
    /// row streams at a stride of a whole row are more than the hardware prefetcher follows when the matrix comes from
    /// DRAM. <paramref name="last"/> is the group's last row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNextGroup(ref byte last, nint rowBytes, nint column)
    {
        nint offset = column * TWeights.ElementBytes;
        if (Sse.IsSupported && (offset & 63) == 0)
        {
            Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref last, rowBytes + offset)));
            Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref last, 2 * rowBytes + offset)));
            Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref last, 3 * rowBytes + offset)));
            Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref last, 4 * rowBytes + offset)));
        }
    }

    /// <summary>x[i …] times <see cref="IFloatWeights.ActivationScale"/> (the JIT drops the multiplication where it is 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat Activations<TWidth, TFloat, TInt>(ref float x, nint i)
        where TWidth : struct, ISimdWidth<TFloat, TInt>
        where TFloat : struct
        where TInt : struct
    {
        TFloat v = TWidth.Load(ref x, (nuint)i);
        return TWeights.ActivationScale == 1 ? v : TWidth.Multiply(v, TWidth.Broadcast(TWeights.ActivationScale));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Activations128(ref float x, nint i)
    {
        Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)i);
        return TWeights.ActivationScale == 1 ? v : v * Vector128.Create(TWeights.ActivationScale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Step128((Vector128<float> Lower, Vector128<float> Upper) w, Vector128<float> xl, Vector128<float> xh, Vector128<float> a) =>
        Vector128.MultiplyAddEstimate(w.Upper, xh, Vector128.MultiplyAddEstimate(w.Lower, xl, a));
}
