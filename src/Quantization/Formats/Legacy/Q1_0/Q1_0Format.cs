using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q1_0: one sign bit per value, one FP16 scale (the mean magnitude) per 128 values; dot with Q8_0 activations.</summary>
internal sealed class Q1_0Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q1_0, "q1_0", blockSize: BlockQ1_0.Values, bytesPerBlock: BlockQ1_0.Size, FormatFamily.Legacy)
    {
        LlamaFileType = 40,
        Importance = ImportanceUse.Ignored,
        Kernels = () => KernelEntry.Create<Q1_0Kernel>((x, y, _) => Q1_0Reference.QuantizeRow(x, y), Q1_0Reference.Dequantize),
        Dot = DotEntry.CreateRows<WideBlockDotKernel<Q1_0Weights>>,
    };
}
