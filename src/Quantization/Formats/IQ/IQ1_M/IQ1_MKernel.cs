using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ1_M kernels: the scalar search (ggml's speed) and vector dequantization, identical to the reference.</summary>
internal readonly struct IQ1_MKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ1_M;

    /// <remarks>The lattice search is the scalar reference.</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ1_MReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Iq1Dequantize.RowM(source, destination);
}
