using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// NF4 kernels (bitsandbytes' NF4 with blocks of 64, see <see cref="BlockNF4"/>), identical in bytes and floats to
/// <see cref="FourBitReference{TCode}"/>. Importance weights are ignored: bitsandbytes' quantizer has none.
/// </summary>
internal sealed class NF4Kernel : IQuantKernel
{
    public static QuantType Type => QuantType.NF4;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!FourBitVector<Nf4Code>.IsSupported)
        {
            FourBitReference<Nf4Code>.QuantizeRow(x, destination);
            return;
        }

        Span<BlockNF4> y = MemoryMarshal.Cast<byte, BlockNF4>(destination);
        for (int i = 0; i < x.Length / BlockNF4.Values; i++)
        {
            y[i].Absmax = FourBitVector<Nf4Code>.QuantizeBlock(x.Slice(i * BlockNF4.Values, BlockNF4.Values), y[i].Qs);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        FourBitReference<Nf4Code>.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!FourBitVector<Nf4Code>.IsSupported)
        {
            FourBitReference<Nf4Code>.Dequantize(source, destination);
            return;
        }

        ReadOnlySpan<BlockNF4> x = MemoryMarshal.Cast<byte, BlockNF4>(source);
        for (int i = 0; i < x.Length; i++)
        {
            FourBitVector<Nf4Code>.DequantizeBlock(x[i].Qs, x[i].Absmax, destination.Slice(i * BlockNF4.Values, BlockNF4.Values));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        FourBitReference<Nf4Code>.Dequantize(source, destination);
}
