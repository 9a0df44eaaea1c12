using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ3_XXS: 3.06 bits per value, quadruples of magnitudes from a 256-point grid with parity-coded signs; dot with Q8_K activations.</summary>
internal sealed class IQ3_XXSFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ3_XXS, "iq3_xxs", blockSize: 256, bytesPerBlock: BlockIQ3_XXS.Size, FormatFamily.IQ)
    {
        LlamaFileType = 23,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ3_XXSKernel>(IQ3_XXSReference.QuantizeRow, IQ3_XXSReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ3_XXSDot, BlockIQ3_XXS>>,
    };
}
