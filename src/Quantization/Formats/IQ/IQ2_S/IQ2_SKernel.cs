using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ2_S kernels, identical in bytes and floats to <see cref="IQ2_SReference"/>.</summary>
internal readonly struct IQ2_SKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ2_S;

    /// <remarks>The lattice search is the scalar reference (its speed is ggml's).</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ2_SReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Iq2Dequantize<IQ2_SDot, BlockIQ2_S>.Row(source, destination);
}
