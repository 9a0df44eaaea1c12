using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q8_K: <c>quantize_row_q8_K_ref</c> and <c>dequantize_row_q8_K</c>.</summary>
internal static class Q8_KReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(destination);
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            float max = 0;
            float amax = 0;
            for (int j = 0; j < 256; ++j)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = xb[j];
                }
            }

            if (amax == 0)
            {
                // ggml leaves bsums unwritten here; zeros are the only sensible bytes.
                y[i] = default;
                continue;
            }

            float iscale = -127f / max;
            for (int j = 0; j < 256; ++j)
            {
                int v = Rounding.NearestInt(iscale * xb[j]);
                y[i].Qs[j] = (sbyte)Math.Min(127, v);
            }

            for (int j = 0; j < 16; ++j)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ++ii)
                {
                    sum += y[i].Qs[j * 16 + ii];
                }

                y[i].Bsums[j] = (short)sum;
            }

            y[i].D = 1 / iscale;
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ8_K> x = MemoryMarshal.Cast<byte, BlockQ8_K>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = x[i].D;
            for (int j = 0; j < 256; ++j)
            {
                y[i * 256 + j] = d * x[i].Qs[j];
            }
        }
    }
}
