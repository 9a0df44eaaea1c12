using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>F16: IEEE binary16, rounded to nearest even (docs/formats.md#f16).</summary>
internal sealed class F16Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.F16, "f16", blockSize: 1, bytesPerBlock: 2, FormatFamily.Float)
    {
        LlamaFileType = 1,
        Kernels = KernelEntry.Create<F16Kernel>,
        Dot = DotEntry.CreateRows<FloatDotKernel<F16Weights>>,
    };
}
