using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// NF4 and FP4 kernels (bitsandbytes' 4-bit code books with blocks of 64, see <see cref="BlockNF4"/>; the code book is
/// <typeparamref name="TCode"/>), identical in bytes and floats to <see cref="FourBitReference{TCode}"/>. Importance
/// weights are ignored: bitsandbytes' quantizer has none.
/// </summary>
internal sealed class FourBitKernel<TCode> : IQuantKernel
    where TCode : struct, IFourBitCode
{
    public static QuantType Type => TCode.Type;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockNF4> y = MemoryMarshal.Cast<byte, BlockNF4>(destination);
        for (int i = 0; i < x.Length / BlockNF4.Values; i++)
        {
            y[i].Absmax = FourBitVector<TCode>.QuantizeBlock(x.Slice(i * BlockNF4.Values, BlockNF4.Values), y[i].Qs);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        FourBitReference<TCode>.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockNF4> x = MemoryMarshal.Cast<byte, BlockNF4>(source);
        for (int i = 0; i < x.Length; i++)
        {
            FourBitVector<TCode>.DequantizeBlock(x[i].Qs, x[i].Absmax, destination.Slice(i * BlockNF4.Values, BlockNF4.Values));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        FourBitReference<TCode>.Dequantize(source, destination);
}
