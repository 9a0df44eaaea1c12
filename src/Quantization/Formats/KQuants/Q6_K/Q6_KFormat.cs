using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q6_K: 6-bit codes with 8-bit sub-block scales; dot with Q8_K activations.</summary>
internal sealed class Q6_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q6_K, "q6_K", blockSize: 256, bytesPerBlock: BlockQ6_K.Size, FormatFamily.KQuant)
    {
        LlamaFileType = 18,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q6_KKernel>(Q6_KReference.QuantizeRow, Q6_KReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<Q6_KDot, BlockQ6_K>>,
    };
}
