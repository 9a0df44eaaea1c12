using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q4_K kernels: lane-parallel sub-block searches and a vector dequantizer, each identical to <see cref="Q4_KReference"/>.</summary>
internal sealed class Q4_KKernel : IFastKernel
{
    public static QuantType Type => QuantType.Q4_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!KQuantAffineLanes.TryQuantizeRow<Q4_KReference.Format>(x, destination, importance))
        {
            Q4_KReference.QuantizeRow(x, destination, importance);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        KDequantize.Q4_K(source, destination);
}
