using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>BF16: bfloat16, rounded to nearest even (docs/formats.md#bf16).</summary>
internal sealed class BF16Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.BF16, "bf16", blockSize: 1, bytesPerBlock: 2, FormatFamily.Float)
    {
        LlamaFileType = 32,
        Kernels = KernelEntry.Create<BF16Kernel>,
        Dot = DotEntry.CreateRows<FloatDotKernel<BF16Weights>>,
    };
}
