using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q3_K: 3-bit codes with 6-bit sub-block scales; dot with Q8_K activations.</summary>
internal sealed class Q3_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q3_K, "q3_K", blockSize: 256, bytesPerBlock: BlockQ3_K.Size, FormatFamily.KQuant)
    {
        LlamaFileType = 11,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q3_KKernel>(Q3_KReference.QuantizeRow, Q3_KReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<Q3_KDot, BlockQ3_K>>,
    };
}
