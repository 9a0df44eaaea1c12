using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q6_K kernels, identical in bytes and floats to <see cref="Q6_KReference"/>.</summary>
internal sealed class Q6_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q6_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q6_KReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q6_KReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q6_KReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q6_KReference.Dequantize(source, destination);
}
