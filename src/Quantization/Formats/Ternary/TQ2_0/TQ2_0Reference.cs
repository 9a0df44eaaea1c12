using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of TQ2_0: <c>quantize_row_tq2_0_ref</c> (what <c>quantize_tq2_0</c> runs; importance is ignored, as
/// in ggml) and <c>dequantize_row_tq2_0</c>.
/// </summary>
internal static class TQ2_0Reference
{
    public const int SuperBlockSize = 256;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockTQ2_0> y = MemoryMarshal.Cast<byte, BlockTQ2_0>(destination);
        for (int i = 0; i < x.Length / SuperBlockSize; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * SuperBlockSize, SuperBlockSize);
            float amax = 0.0f;
            for (int j = 0; j < SuperBlockSize; j++)
            {
                float v = MathF.Abs(xb[j]);
                amax = amax > v ? amax : v; // ggml's MAX macro
            }

            float d = amax;
            float id = TernaryCodes.Inverse(d);
            y[i].D = Fp16.FromSingle(d);

            for (int j = 0; j < 64; j += 32)
            {
                ReadOnlySpan<float> xc = xb.Slice(j * 4, 128);
                for (int m = 0; m < 32; ++m)
                {
                    byte q = 0;
                    for (int n = 0; n < 4; ++n)
                    {
                        int xi = TernaryCodes.Code(xc[m + n * 32], id);
                        q += (byte)((xi & 3) << (2 * n));
                    }

                    y[i].Qs[j + m] = q;
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockTQ2_0> x = MemoryMarshal.Cast<byte, BlockTQ2_0>(source);
        int k = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int j = 0; j < 64; j += 32)
            {
                for (int l = 0; l < 4; ++l)
                {
                    for (int m = 0; m < 32; ++m)
                    {
                        int q = (x[i].Qs[j + m] >> (l * 2)) & 3;
                        y[k++] = (float)(q - 1) * d;
                    }
                }
            }
        }
    }
}
