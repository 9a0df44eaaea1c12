using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q4_K kernels.</summary>
internal sealed class Q4_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q4_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q4_KReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q4_KReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q4_KReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q4_KReference.Dequantize(source, destination);
}
