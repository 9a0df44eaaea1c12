using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_K: 4-bit codes with 6-bit sub-block scales and mins; dot with Q8_K activations.</summary>
internal sealed class Q4_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q4_K, "q4_K", blockSize: 256, bytesPerBlock: BlockQ4_K.Size, FormatFamily.KQuant)
    {
        LlamaFileType = 14,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q4_KKernel>(Q4_KReference.QuantizeRow, Q4_KReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<Q4_KDot, BlockQ4_K>>,
    };
}
