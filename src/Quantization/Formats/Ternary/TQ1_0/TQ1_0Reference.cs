using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of TQ1_0: <c>quantize_row_tq1_0_ref</c> (what <c>quantize_tq1_0</c> runs; importance is ignored, as
/// in ggml) and <c>dequantize_row_tq1_0</c>.
/// </summary>
internal static class TQ1_0Reference
{
    public const int SuperBlockSize = 256;

    private static ReadOnlySpan<byte> Pow3 => [1, 3, 9, 27, 81, 243];

    /// <summary>The stored byte of a base-3 value v (0..242): ceil(v·256/243), so that the trits decode by multiply-and-shift.</summary>
    public static byte CeilScale(byte v) => unchecked((byte)((v * 256 + (243 - 1)) / 243));

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockTQ1_0> y = MemoryMarshal.Cast<byte, BlockTQ1_0>(destination);
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

            // 5 trits per byte along 32 bytes (elements 0..159), then along 16 bytes (160..239).
            for (int m = 0; m < 32; ++m)
            {
                y[i].Qs[m] = Pack5(xb, m, 32, id);
            }

            for (int m = 0; m < 16; ++m)
            {
                y[i].Qs[32 + m] = Pack5(xb[160..], m, 16, id);
            }

            // 4 trits per byte (elements 240..255), shifted up one trit so the first is the most significant.
            for (int j = 0; j < 4; ++j)
            {
                byte q = 0;
                for (int n = 0; n < 4; ++n)
                {
                    q = unchecked((byte)(q * 3 + TernaryCodes.Code(xb[240 + j + n * 4], id)));
                }

                q = unchecked((byte)(q * 3));
                y[i].Qh[j] = CeilScale(q);
            }
        }
    }

    private static byte Pack5(ReadOnlySpan<float> x, int m, int stride, float id)
    {
        byte q = 0;
        for (int n = 0; n < 5; ++n)
        {
            q = unchecked((byte)(q * 3 + TernaryCodes.Code(x[m + n * stride], id)));
        }

        return CeilScale(q);
    }

    /// <summary>Trit n of a stored byte: <c>((uint8)(b·3ⁿ)·3) &gt;&gt; 8</c>.</summary>
    public static int Trit(byte b, int n) => (unchecked((byte)(b * Pow3[n])) * 3) >> 8;

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockTQ1_0> x = MemoryMarshal.Cast<byte, BlockTQ1_0>(source);
        int k = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int n = 0; n < 5; ++n)
            {
                for (int m = 0; m < 32; ++m)
                {
                    y[k++] = (float)(Trit(x[i].Qs[m], n) - 1) * d;
                }
            }

            for (int n = 0; n < 5; ++n)
            {
                for (int m = 0; m < 16; ++m)
                {
                    y[k++] = (float)(Trit(x[i].Qs[32 + m], n) - 1) * d;
                }
            }

            for (int n = 0; n < 4; ++n)
            {
                for (int j = 0; j < 4; ++j)
                {
                    y[k++] = (float)(Trit(x[i].Qh[j], n) - 1) * d;
                }
            }
        }
    }
}
