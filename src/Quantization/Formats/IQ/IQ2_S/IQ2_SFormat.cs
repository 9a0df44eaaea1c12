using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_S: 2.5625 bits per weight on a 1024-point lattice grid with free signs; importance optional; dot with Q8_K activations.</summary>
internal sealed class IQ2_SFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ2_S, "iq2_s", blockSize: 256, bytesPerBlock: BlockIQ2_S.Size, FormatFamily.IQ)
    {
        LlamaFileType = 28,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ2_SKernel>(IQ2_SReference.QuantizeRow, IQ2_SReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<IQ2_SDot, BlockIQ2_S>>,
    };
}
