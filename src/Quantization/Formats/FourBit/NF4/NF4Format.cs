using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>NF4: bitsandbytes' 4-bit NormalFloat, float32 absmax per 64 values; dot with Q8_0 activations.</summary>
internal sealed class NF4Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.NF4, "nf4", blockSize: 64, bytesPerBlock: BlockNF4.Size, FormatFamily.FourBit)
    {
        Kernels = KernelEntry.Create<FourBitKernel<Nf4Code>>,
        Dot = DotEntry.CreateRows<FourBitDot<Nf4Code>>,
    };
}
