using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ4_NL: <c>quantize_iq4_nl</c> (what <c>ggml_quantize_chunk</c> runs, ntry = 7),
/// <c>quantize_row_iq4_nl_ref</c> (ntry = −1, no scale search) and <c>dequantize_row_iq4_nl</c>.
/// </summary>
internal static class IQ4_NLReference
{
    /// <summary><c>quantize_iq4_nl</c> on one row: the bytes of <c>ggml_quantize_chunk</c>.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Quantize(x, destination, importance, ntry: 7);

    /// <summary>
    /// <c>quantize_row_iq4_nl_ref</c>: the first-pass scale and codes only. A block whose largest magnitude is below
    /// 1e-15 gets d = 0 and the codes of the previous block, because ggml's code array outlives each block
    /// (for the first block of a row ggml's array is uninitialised; here it is zero).
    /// </summary>
    public static void QuantizeRowRef(ReadOnlySpan<float> x, Span<byte> destination) =>
        Quantize(x, destination, default, ntry: -1);

    private static void Quantize(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance, int ntry)
    {
        Span<BlockIQ4_NL> y = MemoryMarshal.Cast<byte, BlockIQ4_NL>(destination);
        Span<byte> L = stackalloc byte[Iq4Search.BlockSize];
        L.Clear();
        ushort unusedH = 0;
        for (int ibl = 0; ibl < x.Length / Iq4Search.BlockSize; ++ibl)
        {
            ReadOnlySpan<float> qw = importance.IsEmpty ? default : importance.Slice(Iq4Search.BlockSize * ibl, Iq4Search.BlockSize);
            Iq4Search.QuantizeSuperBlock(x.Slice(Iq4Search.BlockSize * ibl, Iq4Search.BlockSize), qw, ntry,
                out y[ibl].D, y[ibl].Qs, ref unusedH, default, L);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ4_NL> x = MemoryMarshal.Cast<byte, BlockIQ4_NL>(source);
        ReadOnlySpan<sbyte> values = Iq4Search.Values;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int j = 0; j < 16; ++j)
            {
                y[i * 32 + j] = d * values[x[i].Qs[j] & 0xF];
                y[i * 32 + j + 16] = d * values[x[i].Qs[j] >> 4];
            }
        }
    }
}
