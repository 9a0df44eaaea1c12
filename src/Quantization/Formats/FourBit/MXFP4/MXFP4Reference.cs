using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of MXFP4: <c>quantize_row_mxfp4_ref</c> (what <c>ggml_quantize_chunk</c> runs; ggml's quantizer
/// ignores importance) and <c>dequantize_row_mxfp4</c>.
/// </summary>
internal static class MXFP4Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockMXFP4> y = MemoryMarshal.Cast<byte, BlockMXFP4>(destination);
        const int qk = BlockMXFP4.Values;
        for (int i = 0; i < x.Length / qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * qk, qk);
            float amax = 0.0f;
            for (int j = 0; j < qk; j++)
            {
                if (amax < MathF.Abs(xb[j]))
                {
                    amax = MathF.Abs(xb[j]);
                }
            }

            byte e = E8M0.FromAmax(amax);
            float d = E8M0.ToSingleHalf(e);
            y[i].E = e;
            for (int j = 0; j < qk / 2; ++j)
            {
                byte x0 = E2M1.BestIndex(xb[j], d);
                byte x1 = E2M1.BestIndex(xb[qk / 2 + j], d);
                y[i].Qs[j] = (byte)(x0 | (x1 << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockMXFP4> x = MemoryMarshal.Cast<byte, BlockMXFP4>(source);
        ReadOnlySpan<sbyte> values = E2M1.Values;
        for (int i = 0; i < x.Length; i++)
        {
            float d = E8M0.ToSingleHalf(x[i].E);
            for (int j = 0; j < 16; ++j)
            {
                y[i * 32 + j] = values[x[i].Qs[j] & 0x0F] * d;
                y[i * 32 + j + 16] = values[x[i].Qs[j] >> 4] * d;
            }
        }
    }
}
