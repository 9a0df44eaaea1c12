using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization.Kernels;

/// <summary>Input validation: the first NaN / infinite / negative value, found with vector compares.</summary>
internal static class FiniteCheck
{
    public static void ThrowIfNotFinite(ReadOnlySpan<float> values, string paramName)
    {
        int index = IndexOfNonFinite(values);
        if (index >= 0)
        {
            ThrowHelper.ThrowNonFinite(paramName, index, values[index]);
        }
    }

    public static void ThrowIfNegative(ReadOnlySpan<float> values, string paramName)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0)
            {
                ThrowHelper.ThrowArgument(paramName, $"{paramName}[{i}] is {values[i]}; importance weights must not be negative.");
            }
        }
    }

    /// <summary>x − x is 0 for finite x and NaN for NaN and ±∞.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        ref float x = ref MemoryMarshal.GetReference(values);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Four vectors per test: a sum of x − x terms is NaN as soon as one of them is.
            for (; i <= values.Length - 4 * Vector256<float>.Count; i += 4 * Vector256<float>.Count)
            {
                Vector256<float> v0 = Vector256.LoadUnsafe(ref x, (nuint)i), v1 = Vector256.LoadUnsafe(ref x, (nuint)i + 8);
                Vector256<float> v2 = Vector256.LoadUnsafe(ref x, (nuint)i + 16), v3 = Vector256.LoadUnsafe(ref x, (nuint)i + 24);
                if (!Vector256.EqualsAll((v0 - v0) + (v1 - v1) + ((v2 - v2) + (v3 - v3)), Vector256<float>.Zero))
                {
                    break;
                }
            }

            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref x, (nuint)i);
                if (!Vector256.EqualsAll(v - v, Vector256<float>.Zero))
                {
                    break;
                }
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= values.Length - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)i);
                if (!Vector128.EqualsAll(v - v, Vector128<float>.Zero))
                {
                    break;
                }
            }
        }

        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(Unsafe.Add(ref x, i)))
            {
                return i;
            }
        }

        return -1;
    }
}
