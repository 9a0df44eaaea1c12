using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ4_XS: IQ4_NL's table with 6-bit sub-block scales per 256 values; dot with Q8_K activations.</summary>
internal sealed class IQ4_XSFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ4_XS, "iq4_xs", blockSize: 256, bytesPerBlock: BlockIQ4_XS.Size, FormatFamily.IQ)
    {
        LlamaFileType = 30,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ4_XSKernel>(IQ4_XSReference.QuantizeRow, IQ4_XSReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ4_XSDot, BlockIQ4_XS>>,
    };
}
