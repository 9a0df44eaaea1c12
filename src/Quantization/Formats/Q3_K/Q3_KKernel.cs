using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q3_K kernels, identical in bytes and floats to <see cref="Q3_KReference"/>.</summary>
internal sealed class Q3_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q3_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q3_KReference.QuantizeRow(x, destination, importance);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q3_KReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q3_KReference.Dequantize(source, destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q3_KReference.Dequantize(source, destination);
}
