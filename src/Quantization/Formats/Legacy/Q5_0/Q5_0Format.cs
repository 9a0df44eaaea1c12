using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q5_0: 5-bit codes, one FP16 scale per 32 values; dot with Q8_0 activations.</summary>
internal sealed class Q5_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q5_0, "q5_0", blockSize: 32, bytesPerBlock: BlockQ5_0.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 8,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q5_0Kernel>(Q5_0Reference.QuantizeRow, Q5_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<Q5_0Weights>>,
    };
}
