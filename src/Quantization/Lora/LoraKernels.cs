using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Quantization.Lora;

/// <summary>The float loops under <see cref="LoraMatrix"/> and <see cref="LoraMerge"/>.</summary>
internal static class LoraKernels
{
    /// <summary>t = A·x: one dot product per rank component.</summary>
    public static void ProjectDown(LoraAdapter adapter, ReadOnlySpan<float> x, Span<float> t)
    {
        ReadOnlySpan<float> a = adapter.A;
        int n = adapter.InputSize;
        for (int k = 0; k < adapter.Rank; k++)
        {
            t[k] = TensorPrimitives.Dot(a.Slice(k * n, n), x);
        }
    }

    /// <summary>y += scale · B·t, walked as Σₖ (scale·tₖ)·Bᵀₖ so every step is a contiguous axpy over the outputs.</summary>
    public static void AccumulateUp(LoraAdapter adapter, ReadOnlySpan<float> t, float scale, Span<float> y)
    {
        ReadOnlySpan<float> bT = adapter.BTransposed;
        int m = adapter.OutputSize;
        y = y[..m];
        for (int k = 0; k < adapter.Rank; k++)
        {
            float c = scale * t[k];
            if (c != 0)
            {
                TensorPrimitives.MultiplyAdd(bT.Slice(k * m, m), c, y, y);
            }
        }
    }

    /// <summary>
    /// delta = Σₖ B[row, k]·Aₖ, k ascending, each term rounded to float32 before it is added (a product and a sum,
    /// never fused), so the vector and scalar loops give the same bits on every processor.
    /// </summary>
    public static void DeltaRow(LoraAdapter adapter, int row, Span<float> delta)
    {
        ReadOnlySpan<float> a = adapter.A;
        int n = adapter.InputSize;
        delta = delta[..n];
        delta.Clear();
        for (int k = 0; k < adapter.Rank; k++)
        {
            float b = adapter.GetB(row, k);
            if (b != 0)
            {
                AddScaled(a.Slice(k * n, n), b, delta);
            }
        }
    }

    /// <summary>w += scale · delta, the product rounded before the sum.</summary>
    public static void AddScaledInPlace(ReadOnlySpan<float> delta, float scale, Span<float> w) => AddScaled(delta, scale, w);

    private static void AddScaled(ReadOnlySpan<float> source, float factor, Span<float> destination)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<float>.Count)
        {
            ref float s = ref MemoryMarshal.GetReference(source);
            ref float d = ref MemoryMarshal.GetReference(destination);
            var f = new Vector<float>(factor);
            for (; i <= source.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> product = Vector.LoadUnsafe(ref s, (nuint)i) * f;
                (Vector.LoadUnsafe(ref d, (nuint)i) + product).StoreUnsafe(ref d, (nuint)i);
            }
        }

        for (; i < source.Length; i++)
        {
            destination[i] += source[i] * factor; // the JIT never contracts this into a fused multiply-add
        }
    }

    /// <summary>The transpose of a row-major <paramref name="rows"/> × <paramref name="columns"/> matrix.</summary>
    public static float[] Transpose(float[] source, int rows, int columns)
    {
        var result = new float[source.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                result[c * rows + r] = source[r * columns + c];
            }
        }

        return result;
    }
}
