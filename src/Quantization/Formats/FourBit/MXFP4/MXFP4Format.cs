using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// MXFP4: E2M1 codes with one E8M0 exponent per 32 values; dot with Q8_0 activations. llama.cpp has no file type for a
/// model that is all MXFP4: its MXFP4_MOE (38) is a mix whose default type this is (docs/formats.md#file-type).
/// </summary>
internal sealed class MXFP4Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.MXFP4, "mxfp4", blockSize: BlockMXFP4.Values, bytesPerBlock: BlockMXFP4.Size, FormatFamily.FourBit)
    {
        LlamaMixFileType = 38,
        Kernels = KernelEntry.Create<MXFP4Kernel>,
        Dot = DotEntry.CreateRows<Block32DotKernel<MXFP4Weights>>,
    };
}
