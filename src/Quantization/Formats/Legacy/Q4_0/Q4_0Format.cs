using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_0: 4-bit codes, one FP16 scale per 32 values; dot with Q8_0 activations.</summary>
internal sealed class Q4_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q4_0, "q4_0", blockSize: 32, bytesPerBlock: BlockQ4_0.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 2,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q4_0Kernel>(Q4_0Reference.QuantizeRow, Q4_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<Q4_0Weights>>,
    };
}
