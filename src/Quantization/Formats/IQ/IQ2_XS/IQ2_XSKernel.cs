using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ2_XS kernels, identical in bytes and floats to <see cref="IQ2_XSReference"/>.</summary>
internal readonly struct IQ2_XSKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ2_XS;

    /// <remarks>The lattice search is the scalar reference (its speed is ggml's).</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ2_XSReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Iq2Dequantize<IQ2_XSDot, BlockIQ2_XS>.Row(source, destination);
}
