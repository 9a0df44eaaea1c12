using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XS: 2.3125 bits per weight on a 512-point lattice grid, 4-bit scales per 16 values; needs importance; dot with Q8_K activations.</summary>
internal sealed class IQ2_XSFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ2_XS, "iq2_xs", blockSize: 256, bytesPerBlock: BlockIQ2_XS.Size, FormatFamily.IQ)
    {
        LlamaFileType = 20,
        Importance = ImportanceUse.Required,
        Kernels = () => KernelEntry.Create<IQ2_XSKernel>(IQ2_XSReference.QuantizeRow, IQ2_XSReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ2_XSDot, BlockIQ2_XS>>,
    };
}
