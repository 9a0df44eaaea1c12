using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q5_K kernels: lane-parallel sub-block searches and a vector dequantizer, each identical to <see cref="Q5_KReference"/>.</summary>
internal sealed class Q5_KKernel : IFastKernel
{
    public static QuantType Type => QuantType.Q5_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!KQuantAffineLanes.TryQuantizeRow<Q5_KReference.Format>(x, destination, importance))
        {
            Q5_KReference.QuantizeRow(x, destination, importance);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        KDequantize.Q5_K(source, destination);
}
