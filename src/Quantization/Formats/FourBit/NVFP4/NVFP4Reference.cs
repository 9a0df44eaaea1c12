using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of NVFP4: <c>quantize_row_nvfp4_ref</c> (what <c>ggml_quantize_chunk</c> runs; ggml's quantizer
/// ignores importance) and <c>dequantize_row_nvfp4</c>.
/// </summary>
internal static class NVFP4Reference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockNVFP4> y = MemoryMarshal.Cast<byte, BlockNVFP4>(destination);
        const int qkSub = BlockNVFP4.SubBlockValues;
        for (int i = 0; i < x.Length / BlockNVFP4.Values; i++)
        {
            for (int s = 0; s < BlockNVFP4.SubBlocks; s++)
            {
                ReadOnlySpan<float> xb = x.Slice(i * BlockNVFP4.Values + s * qkSub, qkSub);
                float amax = 0.0f;
                for (int j = 0; j < qkSub; j++)
                {
                    if (amax < MathF.Abs(xb[j]))
                    {
                        amax = MathF.Abs(xb[j]);
                    }
                }

                // amax/6 maps the largest E2M1 magnitude (6) to amax.
                byte ue = UE4M3.FromSingle(amax / 6.0f);
                y[i].D[s] = ue;
                float d = UE4M3.ToSingle(ue);
                for (int j = 0; j < qkSub / 2; ++j)
                {
                    byte x0 = E2M1.BestIndex(xb[j], d);
                    byte x1 = E2M1.BestIndex(xb[qkSub / 2 + j], d);
                    y[i].Qs[s * (qkSub / 2) + j] = (byte)(x0 | (x1 << 4));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockNVFP4> x = MemoryMarshal.Cast<byte, BlockNVFP4>(source);
        ReadOnlySpan<sbyte> values = E2M1.Values;
        const int qkSub = BlockNVFP4.SubBlockValues;
        for (int i = 0; i < x.Length; i++)
        {
            for (int s = 0; s < BlockNVFP4.SubBlocks; s++)
            {
                float d = UE4M3.ToSingle(x[i].D[s]);
                int yb = i * BlockNVFP4.Values + s * qkSub;
                for (int j = 0; j < qkSub / 2; ++j)
                {
                    byte q = x[i].Qs[s * (qkSub / 2) + j];
                    y[yb + j] = values[q & 0x0F] * d;
                    y[yb + j + qkSub / 2] = values[q >> 4] * d;
                }
            }
        }
    }
}
