using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q2_K: 2-bit codes with 4-bit sub-block scales and mins; dot with Q8_K activations.</summary>
internal sealed class Q2_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q2_K, "q2_K", blockSize: 256, bytesPerBlock: BlockQ2_K.Size, FormatFamily.KQuant)
    {
        LlamaFileType = 10,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q2_KKernel>(Q2_KReference.QuantizeRow, Q2_KReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<Q2_KDot, BlockQ2_K>>,
    };
}
