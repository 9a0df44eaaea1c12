using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ2_XXS kernels, identical in bytes and floats to <see cref="IQ2_XXSReference"/>.</summary>
internal readonly struct IQ2_XXSKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ2_XXS;

    /// <remarks>The lattice search is the scalar reference (its speed is ggml's).</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ2_XXSReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        Iq2Dequantize<IQ2_XXSDot, BlockIQ2_XXS>.Row(source, destination);
}
