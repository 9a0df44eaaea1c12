using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>TQ1_0: Ternary, five trits per byte in base 3; dot with Q8_K activations.</summary>
internal sealed class TQ1_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.TQ1_0, "tq1_0", blockSize: 256, bytesPerBlock: BlockTQ1_0.Size, FormatFamily.Ternary)
    {
        LlamaFileType = 36,
        Kernels = () => KernelEntry.Create<TQ1_0Kernel>((x, y, _) => TQ1_0Reference.QuantizeRow(x, y), TQ1_0Reference.Dequantize),
        Dot = DotEntry.Create<TQ1_0Dot>,
    };
}
