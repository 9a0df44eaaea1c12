using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
/// activations and the path, never on the grouping or the thread count. The vector paths multiply-add with
/// <c>MultiplyAddEstimate</c> (fused where the CPU has FMA). The scalar path is the reference: products and sum in
/// double, rounded once.
/// </remarks>
internal static class FloatDot<TWeights> where TWeights : IFloatWeights
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
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        CheckLengths(weights, activations, n, results.Length, rowBytes);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref float x = ref Unsafe.As<byte, float>(ref MemoryMarshal.GetReference(activations));
        switch (path)
        {
            case DotPath.Avx512:
                Rows512(ref w, rowBytes, ref x, n, results);
                break;
            case DotPath.Avx2:
                Rows256(ref w, rowBytes, ref x, n, results);
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

    /// <summary>Σ over columns <paramref name="start"/> … n − 1 in float, in column order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(ref byte w, ref float x, int start, int n)
    {
        float sum = 0;
        for (int i = start; i < n; i++)
        {
            sum += TWeights.ToSingle(ref w, i) * Unsafe.Add(ref x, i);
        }

        return sum;
    }

    private static void Rows512(ref byte w, nint rowBytes, ref float x, int n, Span<float> results)
    {
        int end = n & ~15;
        int r = 0;
        for (; r <= results.Length - RowGroup; r += RowGroup)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            ref byte w1 = ref Unsafe.Add(ref w0, rowBytes);
            ref byte w2 = ref Unsafe.Add(ref w1, rowBytes);
            ref byte w3 = ref Unsafe.Add(ref w2, rowBytes);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (nint i = 0; i < end; i += 16)
            {
                Vector512<float> xv = Vector512.LoadUnsafe(ref x, (nuint)i);
                a0 = Vector512.MultiplyAddEstimate(TWeights.Load512(ref w0, i), xv, a0);
                a1 = Vector512.MultiplyAddEstimate(TWeights.Load512(ref w1, i), xv, a1);
                a2 = Vector512.MultiplyAddEstimate(TWeights.Load512(ref w2, i), xv, a2);
                a3 = Vector512.MultiplyAddEstimate(TWeights.Load512(ref w3, i), xv, a3);
            }

            results[r] = Vector512.Sum(a0) + Tail(ref w0, ref x, end, n);
            results[r + 1] = Vector512.Sum(a1) + Tail(ref w1, ref x, end, n);
            results[r + 2] = Vector512.Sum(a2) + Tail(ref w2, ref x, end, n);
            results[r + 3] = Vector512.Sum(a3) + Tail(ref w3, ref x, end, n);
        }

        for (; r < results.Length; r++)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            Vector512<float> a0 = default;
            for (nint i = 0; i < end; i += 16)
            {
                a0 = Vector512.MultiplyAddEstimate(TWeights.Load512(ref w0, i), Vector512.LoadUnsafe(ref x, (nuint)i), a0);
            }

            results[r] = Vector512.Sum(a0) + Tail(ref w0, ref x, end, n);
        }
    }

    private static void Rows256(ref byte w, nint rowBytes, ref float x, int n, Span<float> results)
    {
        int end = n & ~7;
        int r = 0;
        for (; r <= results.Length - RowGroup; r += RowGroup)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            ref byte w1 = ref Unsafe.Add(ref w0, rowBytes);
            ref byte w2 = ref Unsafe.Add(ref w1, rowBytes);
            ref byte w3 = ref Unsafe.Add(ref w2, rowBytes);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (nint i = 0; i < end; i += 8)
            {
                Vector256<float> xv = Vector256.LoadUnsafe(ref x, (nuint)i);
                a0 = Vector256.MultiplyAddEstimate(TWeights.Load256(ref w0, i), xv, a0);
                a1 = Vector256.MultiplyAddEstimate(TWeights.Load256(ref w1, i), xv, a1);
                a2 = Vector256.MultiplyAddEstimate(TWeights.Load256(ref w2, i), xv, a2);
                a3 = Vector256.MultiplyAddEstimate(TWeights.Load256(ref w3, i), xv, a3);
            }

            results[r] = Vector256.Sum(a0) + Tail(ref w0, ref x, end, n);
            results[r + 1] = Vector256.Sum(a1) + Tail(ref w1, ref x, end, n);
            results[r + 2] = Vector256.Sum(a2) + Tail(ref w2, ref x, end, n);
            results[r + 3] = Vector256.Sum(a3) + Tail(ref w3, ref x, end, n);
        }

        for (; r < results.Length; r++)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            Vector256<float> a0 = default;
            for (nint i = 0; i < end; i += 8)
            {
                a0 = Vector256.MultiplyAddEstimate(TWeights.Load256(ref w0, i), Vector256.LoadUnsafe(ref x, (nuint)i), a0);
            }

            results[r] = Vector256.Sum(a0) + Tail(ref w0, ref x, end, n);
        }
    }

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
            for (nint i = 0; i < end; i += 8)
            {
                Vector128<float> xl = Vector128.LoadUnsafe(ref x, (nuint)i);
                Vector128<float> xh = Vector128.LoadUnsafe(ref x, (nuint)i + 4);
                a0 = Step128(TWeights.Load128(ref w0, i), xl, xh, a0);
                a1 = Step128(TWeights.Load128(ref w1, i), xl, xh, a1);
                a2 = Step128(TWeights.Load128(ref w2, i), xl, xh, a2);
                a3 = Step128(TWeights.Load128(ref w3, i), xl, xh, a3);
            }

            results[r] = Vector128.Sum(a0) + Tail(ref w0, ref x, end, n);
            results[r + 1] = Vector128.Sum(a1) + Tail(ref w1, ref x, end, n);
            results[r + 2] = Vector128.Sum(a2) + Tail(ref w2, ref x, end, n);
            results[r + 3] = Vector128.Sum(a3) + Tail(ref w3, ref x, end, n);
        }

        for (; r < results.Length; r++)
        {
            ref byte w0 = ref Unsafe.Add(ref w, r * rowBytes);
            Vector128<float> a0 = default;
            for (nint i = 0; i < end; i += 8)
            {
                a0 = Step128(TWeights.Load128(ref w0, i), Vector128.LoadUnsafe(ref x, (nuint)i), Vector128.LoadUnsafe(ref x, (nuint)i + 4), a0);
            }

            results[r] = Vector128.Sum(a0) + Tail(ref w0, ref x, end, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Step128((Vector128<float> Lower, Vector128<float> Upper) w, Vector128<float> xl, Vector128<float> xh, Vector128<float> a) =>
        Vector128.MultiplyAddEstimate(w.Upper, xh, Vector128.MultiplyAddEstimate(w.Lower, xl, a));
}
