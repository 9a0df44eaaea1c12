using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_K: float32 scale, 8-bit codes and 16-value sums: the activations of the K-quant, IQ4_XS and TQ dots.</summary>
internal sealed class Q8_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q8_K, "q8_K", blockSize: 256, bytesPerBlock: BlockQ8_K.Size, FormatFamily.KQuant)
    {
        Role = FormatRole.Activation,
        Kernels = () => KernelEntry.Create<Q8_KKernel>((x, y, _) => Q8_KReference.QuantizeRow(x, y), Q8_KReference.Dequantize),
    };
}
