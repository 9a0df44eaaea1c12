using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>F32: IEEE binary32 (a plain copy).</summary>
internal sealed class F32Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.F32, "f32", blockSize: 1, bytesPerBlock: 4, FormatFamily.Float)
    {
        LlamaFileType = 0,
        Kernels = KernelEntry.Create<F32Kernel>,
        Dot = DotEntry.CreateRows<FloatDotKernel<F32Weights>>,
    };
}
