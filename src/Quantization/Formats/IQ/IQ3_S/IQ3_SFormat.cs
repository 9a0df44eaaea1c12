using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ3_S: 3.44 bits per value, quadruples of magnitudes from a 512-point grid with explicit signs; dot with Q8_K activations.</summary>
internal sealed class IQ3_SFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ3_S, "iq3_s", blockSize: 256, bytesPerBlock: BlockIQ3_S.Size, FormatFamily.IQ)
    {
        LlamaFileType = 26,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ3_SKernel>(IQ3_SReference.QuantizeRow, IQ3_SReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ3_SDot, BlockIQ3_S>>,
    };
}
