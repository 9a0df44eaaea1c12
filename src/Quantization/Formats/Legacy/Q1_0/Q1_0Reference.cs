using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q1_0 (docs/formats.md#q1_0): <c>quantize_row_q1_0_ref</c> (also <c>quantize_q1_0</c>, which ignores importance), <c>dequantize_row_q1_0</c>.</summary>
internal static class Q1_0Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockQ1_0> y = MemoryMarshal.Cast<byte, BlockQ1_0>(destination);
        const int qk = BlockQ1_0.Values;
        for (int i = 0; i < x.Length / qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * qk, qk);

            // The scale is the mean magnitude, summed left to right.
            float sumAbs = 0.0f;
            for (int j = 0; j < qk; j++)
            {
                sumAbs += MathF.Abs(xb[j]);
            }

            y[i].D = Fp16.FromSingle(sumAbs / qk);
            for (int j = 0; j < qk / 8; j++)
            {
                y[i].Qs[j] = 0;
            }

            // Only the sign is stored; zero (either sign) counts as positive.
            for (int j = 0; j < qk; j++)
            {
                if (xb[j] >= 0.0f)
                {
                    y[i].Qs[j / 8] |= (byte)(1 << (j % 8));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ1_0> x = MemoryMarshal.Cast<byte, BlockQ1_0>(source);
        const int qk = BlockQ1_0.Values;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            float negD = -d;
            for (int j = 0; j < qk; j++)
            {
                int bit = (x[i].Qs[j / 8] >> (j % 8)) & 1;
                y[i * qk + j] = bit != 0 ? d : negD;
            }
        }
    }
}
