using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q2_K kernels, identical in bytes and floats to <see cref="Q2_KReference"/>.</summary>
internal sealed class Q2_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q2_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q2_KReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q2_KReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q2_KReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q2_KReference.Dequantize(source, destination);
}
