using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q8_0: 8-bit codes, one FP16 scale per 32 values: weights, and the activations of the Q4_0 / Q5_0 / Q8_0 / IQ4_NL / NF4 / FP4 dots.</summary>
internal sealed class Q8_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q8_0, "q8_0", blockSize: 32, bytesPerBlock: BlockQ8_0.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 7,
        Kernels = () => KernelEntry.Create<Q8_0Kernel>((x, y, _) => Q8_0Reference.QuantizeRow(x, y), Q8_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<Q8_0Weights>>,
    };
}
