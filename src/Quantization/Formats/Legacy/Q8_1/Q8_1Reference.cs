using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of Q8_1: <c>quantize_row_q8_1_ref</c>. ggml has no dequantizer for Q8_1; ours is w = d·q,
/// the value the Q4_1 / Q5_1 dot products read.
/// </summary>
internal static class Q8_1Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockQ8_1> y = MemoryMarshal.Cast<byte, BlockQ8_1>(destination);
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
            int sum = 0;
            for (int j = 0; j < 32; ++j)
            {
                sbyte q = (sbyte)Rounding.CTruncate(Rounding.RoundAwayFromZero(xb[j] * id));
                y[i].Qs[j] = q;
                sum += q;
            }

            y[i].S = Fp16.FromSingle(sum * d);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ8_1> x = MemoryMarshal.Cast<byte, BlockQ8_1>(source);
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
