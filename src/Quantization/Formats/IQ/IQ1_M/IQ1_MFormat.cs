using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ1_M: 1.75 bits per weight on IQ1_S's ternary grid, a shift per 8 values and a scale per 16; importance optional; dot with Q8_K activations.</summary>
internal sealed class IQ1_MFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ1_M, "iq1_m", blockSize: 256, bytesPerBlock: BlockIQ1_M.Size, FormatFamily.IQ)
    {
        LlamaFileType = 31,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ1_MKernel>(IQ1_MReference.QuantizeRow, IQ1_MReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ1_MDot, BlockIQ1_M>>,
    };
}
