using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ4_XS: <c>quantize_iq4_xs</c> (ntry = 7; <c>quantize_row_iq4_xs_ref</c> calls it too)
/// and <c>dequantize_row_iq4_xs</c>.
/// </summary>
internal static class IQ4_XSReference
{
    public const int SuperBlockSize = 256;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockIQ4_XS> y = MemoryMarshal.Cast<byte, BlockIQ4_XS>(destination);
        Span<byte> L = stackalloc byte[SuperBlockSize];
        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            ReadOnlySpan<float> qw = importance.IsEmpty ? default : importance.Slice(SuperBlockSize * ibl, SuperBlockSize);
            Iq4Search.QuantizeSuperBlock(x.Slice(SuperBlockSize * ibl, SuperBlockSize), qw, 7,
                out y[ibl].D, y[ibl].Qs, ref y[ibl].ScalesH, y[ibl].ScalesL, L);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ4_XS> x = MemoryMarshal.Cast<byte, BlockIQ4_XS>(source);
        ReadOnlySpan<sbyte> values = Iq4Search.Values;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < BlockIQ4_XS.SubBlocks; ++ib)
            {
                float dl = d * (x[i].Scale(ib) - 32);
                int o = i * SuperBlockSize + ib * 32;
                for (int j = 0; j < 16; ++j)
                {
                    byte b = x[i].Qs[16 * ib + j];
                    y[o + j] = dl * values[b & 0xF];
                    y[o + j + 16] = dl * values[b >> 4];
                }
            }
        }
    }
}
