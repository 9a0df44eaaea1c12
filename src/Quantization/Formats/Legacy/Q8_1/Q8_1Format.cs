using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_1: Q8_0 plus the FP16 sum d·Σq: the activations of the Q4_1 / Q5_1 dots.</summary>
internal sealed class Q8_1Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q8_1, "q8_1", blockSize: 32, bytesPerBlock: BlockQ8_1.Size, FormatFamily.Legacy)
    {
        Role = FormatRole.Activation,
        Kernels = () => KernelEntry.Create<Q8_1Kernel>((x, y, _) => Q8_1Reference.QuantizeRow(x, y), Q8_1Reference.Dequantize),
    };
}
