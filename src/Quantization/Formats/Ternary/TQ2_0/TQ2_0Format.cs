using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>TQ2_0: Ternary, 2-bit codes; dot with Q8_K activations.</summary>
internal sealed class TQ2_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.TQ2_0, "tq2_0", blockSize: 256, bytesPerBlock: BlockTQ2_0.Size, FormatFamily.Ternary)
    {
        LlamaFileType = 37,
        Kernels = () => KernelEntry.Create<TQ2_0Kernel>((x, y, _) => TQ2_0Reference.QuantizeRow(x, y), TQ2_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<TQ2_0Dot>,
    };
}
