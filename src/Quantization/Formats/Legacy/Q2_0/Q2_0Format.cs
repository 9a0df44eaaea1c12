using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q2_0: 2-bit codes for −1, 0, +1, +2 times one FP16 scale (the largest magnitude) per 64 values; dot with Q8_0 activations.</summary>
internal sealed class Q2_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q2_0, "q2_0", blockSize: BlockQ2_0.Values, bytesPerBlock: BlockQ2_0.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 41,
        Importance = ImportanceUse.Ignored,
        Kernels = () => KernelEntry.Create<Q2_0Kernel>((x, y, _) => Q2_0Reference.QuantizeRow(x, y), Q2_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<WideBlockDotKernel<Q2_0Weights>>,
    };
}
