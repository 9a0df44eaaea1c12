using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>NVFP4: E2M1 codes with one UE4M3 scale per 16 values, 64 per block; dot with two Q8_0 activation blocks per block.</summary>
internal sealed class NVFP4Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.NVFP4, "nvfp4", blockSize: BlockNVFP4.Values, bytesPerBlock: BlockNVFP4.Size, FormatFamily.FourBit)
    {
        LlamaFileType = 39,
        Kernels = KernelEntry.Create<NVFP4Kernel>,
        Dot = DotEntry.CreateRows<NVFP4Dot>,
    };
}
