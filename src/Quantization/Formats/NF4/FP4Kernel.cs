using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// FP4 kernels (bitsandbytes' FP4 with blocks of 64, see <see cref="BlockNF4"/>), identical in bytes and floats to
/// <see cref="FourBitReference{TCode}"/>. Importance weights are ignored: bitsandbytes' quantizer has none.
/// </summary>
internal sealed class FP4Kernel : IQuantKernel
{
    public static QuantType Type => QuantType.FP4;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!FourBitVector<Fp4Code>.IsSupported)
        {
            FourBitReference<Fp4Code>.QuantizeRow(x, destination);
            return;
        }

        Span<BlockNF4> y = MemoryMarshal.Cast<byte, BlockNF4>(destination);
        for (int i = 0; i < x.Length / BlockNF4.Values; i++)
        {
            y[i].Absmax = FourBitVector<Fp4Code>.QuantizeBlock(x.Slice(i * BlockNF4.Values, BlockNF4.Values), y[i].Qs);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        FourBitReference<Fp4Code>.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!FourBitVector<Fp4Code>.IsSupported)
        {
            FourBitReference<Fp4Code>.Dequantize(source, destination);
            return;
        }

        ReadOnlySpan<BlockNF4> x = MemoryMarshal.Cast<byte, BlockNF4>(source);
        for (int i = 0; i < x.Length; i++)
        {
            FourBitVector<Fp4Code>.DequantizeBlock(x[i].Qs, x[i].Absmax, destination.Slice(i * BlockNF4.Values, BlockNF4.Values));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        FourBitReference<Fp4Code>.Dequantize(source, destination);
}
