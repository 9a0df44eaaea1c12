using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ4_NL kernels, identical in bytes and floats to <see cref="IQ4_NLReference"/>.</summary>
internal sealed class IQ4_NLKernel : IQuantKernel
{
    public static QuantType Type => QuantType.IQ4_NL;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ4_NLReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ4_NLReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        IQ4_NLReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        IQ4_NLReference.Dequantize(source, destination);
}
