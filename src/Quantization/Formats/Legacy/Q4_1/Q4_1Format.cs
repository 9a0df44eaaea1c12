using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_1: 4-bit codes, FP16 scale and min per 32 values; dot with Q8_1 activations.</summary>
internal sealed class Q4_1Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q4_1, "q4_1", blockSize: 32, bytesPerBlock: BlockQ4_1.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 3,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q4_1Kernel>(Q4_1Reference.QuantizeRow, Q4_1Reference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<Q4_1Weights>>,
    };
}
