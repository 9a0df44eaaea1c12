using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q2_0 (docs/formats.md#q2_0): <c>quantize_row_q2_0_ref</c> (also <c>quantize_q2_0</c>, which ignores importance), <c>dequantize_row_q2_0</c>.</summary>
internal static class Q2_0Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockQ2_0> y = MemoryMarshal.Cast<byte, BlockQ2_0>(destination);
        const int qk = BlockQ2_0.Values;
        for (int i = 0; i < x.Length / qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * qk, qk);
            float amax = 0.0f;
            for (int j = 0; j < qk; j++)
            {
                float a = MathF.Abs(xb[j]);
                if (a > amax)
                {
                    amax = a;
                }
            }

            // d is the largest magnitude itself; the inverse is taken from the float, not from its FP16 rounding.
            float d = amax;
            float id = d > 0.0f ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            for (int j = 0; j < qk / 4; j++)
            {
                y[i].Qs[j] = 0;
            }

            for (int j = 0; j < qk; j++)
            {
                int q = Rounding.CTruncate(Rounding.RoundAwayFromZero(xb[j] * id)) + 1;
                q = Math.Clamp(q, 0, 3);
                y[i].Qs[j / 4] |= (byte)(q << (j % 4 * 2));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ2_0> x = MemoryMarshal.Cast<byte, BlockQ2_0>(source);
        const int qk = BlockQ2_0.Values;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int j = 0; j < qk; j++)
            {
                int q = (x[i].Qs[j / 4] >> (j % 4 * 2)) & 3;
                y[i * qk + j] = (q - 1) * d;
            }
        }
    }
}
