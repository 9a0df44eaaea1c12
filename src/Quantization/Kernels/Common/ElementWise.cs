using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization.Kernels;

/// <summary>
/// Element-wise steps of the K-quant kernels, 4 values per step: each element is computed by the same IEEE
/// operations as the scalar reference (no reduction, no FMA), so the results are identical. Lengths are multiples of 4.
/// </summary>
internal static class ElementWise
{
    /// <summary>weight[j] = qw[j]·√(sigma2 + x[j]·x[j]), as <see cref="QuantSearch.ImportanceWeights"/>.</summary>
    public static void ImportanceWeights(ReadOnlySpan<float> xb, ReadOnlySpan<float> qw, float sigma2, Span<float> weight)
    {
        ref float x = ref MemoryMarshal.GetReference(xb);
        ref float q = ref MemoryMarshal.GetReference(qw);
        ref float w = ref MemoryMarshal.GetReference(weight);
        Vector128<float> s = Vector128.Create(sigma2);
        for (nuint j = 0; j < (nuint)xb.Length; j += 4)
        {
            Vector128<float> v = Vector128.LoadUnsafe(ref x, j);
            (Vector128.LoadUnsafe(ref q, j) * Vector128.Sqrt(s + v * v)).StoreUnsafe(ref w, j);
        }
    }

    /// <summary>w[j] = x[j]·x[j].</summary>
    public static void Squares(ReadOnlySpan<float> xb, Span<float> weight)
    {
        ref float x = ref MemoryMarshal.GetReference(xb);
        ref float w = ref MemoryMarshal.GetReference(weight);
        for (nuint j = 0; j < (nuint)xb.Length; j += 4)
        {
            Vector128<float> v = Vector128.LoadUnsafe(ref x, j);
            (v * v).StoreUnsafe(ref w, j);
        }
    }

    /// <summary>w[j] = |x[j]|.</summary>
    public static void Abs(ReadOnlySpan<float> xb, Span<float> weight)
    {
        ref float x = ref MemoryMarshal.GetReference(xb);
        ref float w = ref MemoryMarshal.GetReference(weight);
        for (nuint j = 0; j < (nuint)xb.Length; j += 4)
        {
            Vector128.Abs(Vector128.LoadUnsafe(ref x, j)).StoreUnsafe(ref w, j);
        }
    }

    /// <summary>
    /// sums[b] = Σ x[j]·x[j] over block b in index order, as the scalar loop <c>sum_x2 += x[j]*x[j]</c> adds: four
    /// blocks' chains interleaved, so the additions overlap instead of waiting on each other.
    /// </summary>
    public static void SumSquaresPerBlock(ReadOnlySpan<float> x, int blockSize, Span<float> sums)
    {
        int blocks = x.Length / blockSize;
        ref float xr = ref MemoryMarshal.GetReference(x);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            ref float x0 = ref Unsafe.Add(ref xr, b * blockSize);
            ref float x1 = ref Unsafe.Add(ref x0, blockSize);
            ref float x2 = ref Unsafe.Add(ref x1, blockSize);
            ref float x3 = ref Unsafe.Add(ref x2, blockSize);
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int j = 0; j < blockSize; ++j)
            {
                float v0 = Unsafe.Add(ref x0, j), v1 = Unsafe.Add(ref x1, j), v2 = Unsafe.Add(ref x2, j), v3 = Unsafe.Add(ref x3, j);
                s0 += v0 * v0;
                s1 += v1 * v1;
                s2 += v2 * v2;
                s3 += v3 * v3;
            }

            sums[b] = s0;
            sums[b + 1] = s1;
            sums[b + 2] = s2;
            sums[b + 3] = s3;
        }

        for (; b < blocks; ++b)
        {
            ref float xb = ref Unsafe.Add(ref xr, b * blockSize);
            float s0 = 0;
            for (int j = 0; j < blockSize; ++j)
            {
                float v = Unsafe.Add(ref xb, j);
                s0 += v * v;
            }

            sums[b] = s0;
        }
    }
}
