using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ4_XS kernels, identical in bytes and floats to <see cref="IQ4_XSReference"/>.</summary>
internal sealed class IQ4_XSKernel : IQuantKernel
{
    public static QuantType Type => QuantType.IQ4_XS;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ4_XSReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ4_XSReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        IQ4_XSReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        IQ4_XSReference.Dequantize(source, destination);
}
