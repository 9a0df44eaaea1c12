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
}
