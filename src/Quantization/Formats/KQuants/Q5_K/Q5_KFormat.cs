using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q5_K: 5-bit codes with 6-bit sub-block scales and mins; dot with Q8_K activations.</summary>
internal sealed class Q5_KFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.Q5_K, "q5_K", blockSize: 256, bytesPerBlock: BlockQ5_K.Size, FormatFamily.KQuant)
    {
        LlamaFileType = 16,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<Q5_KKernel>(Q5_KReference.QuantizeRow, Q5_KReference.Dequantize),
        Dot = DotEntry.CreateRows<KDotKernel<Q5_KDot, BlockQ5_K>>,
    };
}
