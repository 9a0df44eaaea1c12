using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ4_NL: 4-bit indices into a non-linear table, one FP16 scale per 32 values; dot with Q8_0 activations.</summary>
internal sealed class IQ4_NLFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.IQ4_NL, "iq4_nl", blockSize: 32, bytesPerBlock: BlockIQ4_NL.Size, FormatFamily.IQ)
    {
        LlamaFileType = 25,
        Importance = ImportanceUse.Optional,
        Kernels = () => KernelEntry.Create<IQ4_NLKernel>(IQ4_NLReference.QuantizeRow, IQ4_NLReference.Dequantize),
        Dot = DotEntry.CreateRows<Block32DotKernel<IQ4_NLWeights>>,
    };
}
