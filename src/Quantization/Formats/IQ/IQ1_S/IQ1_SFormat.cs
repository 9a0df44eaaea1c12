using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ1_S: 1.5625 bits per weight on a 2048-point ternary grid with a shift per 32 values; needs importance; dot with Q8_K activations.</summary>
internal sealed class IQ1_SFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ1_S, "iq1_s", blockSize: 256, bytesPerBlock: BlockIQ1_S.Size, FormatFamily.IQ)
    {
        LlamaFileType = 24,
        Importance = ImportanceUse.Required,
        Kernels = () => KernelEntry.Create<IQ1_SKernel>(IQ1_SReference.QuantizeRow, IQ1_SReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ1_SDot, BlockIQ1_S>>,
    };
}
