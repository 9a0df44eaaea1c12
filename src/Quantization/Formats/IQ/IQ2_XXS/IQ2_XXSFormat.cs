using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XXS: 2.0625 bits per weight on a 256-point lattice grid; needs importance; dot with Q8_K activations.</summary>
internal sealed class IQ2_XXSFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ2_XXS, "iq2_xxs", blockSize: 256, bytesPerBlock: BlockIQ2_XXS.Size, FormatFamily.IQ)
    {
        LlamaFileType = 19,
        Importance = ImportanceUse.Required,
        Kernels = () => KernelEntry.Create<IQ2_XXSKernel>(IQ2_XXSReference.QuantizeRow, IQ2_XXSReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ2_XXSDot, BlockIQ2_XXS>>,
    };
}
