using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q5_1: 5-bit codes, FP16 scale and min per 32 values; dot with Q8_1 activations.</summary>
internal sealed class Q5_1Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q5_1, "q5_1", blockSize: 32, bytesPerBlock: BlockQ5_1.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 9,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q5_1Kernel>(Q5_1Reference.QuantizeRow, Q5_1Reference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<Q5_1Weights>>,
    };
}
