using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q8_0: <c>quantize_row_q8_0_ref</c> (importance is ignored, as in ggml) and <c>dequantize_row_q8_0</c>.</summary>
internal static class Q8_0Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockQ8_0> y = MemoryMarshal.Cast<byte, BlockQ8_0>(destination);
        for (int i = 0; i < x.Length / 32; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 32, 32);
            float amax = 0.0f;
            for (int j = 0; j < 32; j++)
            {
                amax = Math.Max(amax, MathF.Abs(xb[j]));
            }

            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            for (int j = 0; j < 32; ++j)
            {
                y[i].Qs[j] = (sbyte)Rounding.CTruncate(Rounding.RoundAwayFromZero(xb[j] * id));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ8_0> x = MemoryMarshal.Cast<byte, BlockQ8_0>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int j = 0; j < 32; ++j)
            {
                y[i * 32 + j] = x[i].Qs[j] * d;
            }
        }
    }
}
