using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>F32: IEEE binary32 (a plain copy).</summary>
internal sealed class F32Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.F32, "f32", blockSize: 1, bytesPerBlock: 4, FormatFamily.Float)
    {
        LlamaFileType = 0,
        Kernels = KernelEntry.Create<F32Kernel>,
    };
}

/// <summary>F16: IEEE binary16, rounded to nearest even (docs/formats.md#f16).</summary>
internal sealed class F16Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.F16, "f16", blockSize: 1, bytesPerBlock: 2, FormatFamily.Float)
    {
        LlamaFileType = 1,
        Kernels = KernelEntry.Create<F16Kernel>,
    };
}

/// <summary>BF16: bfloat16, rounded to nearest even (docs/formats.md#bf16).</summary>
internal sealed class BF16Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.BF16, "bf16", blockSize: 1, bytesPerBlock: 2, FormatFamily.Float)
    {
        LlamaFileType = 32,
        Kernels = KernelEntry.Create<BF16Kernel>,
    };
}
