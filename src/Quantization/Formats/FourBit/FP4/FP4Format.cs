using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>FP4: bitsandbytes' 4-bit float (E2M1), float32 absmax per 64 values; dot with Q8_0 activations.</summary>
internal sealed class FP4Format : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.FP4, "fp4", blockSize: 64, bytesPerBlock: BlockNF4.Size, FormatFamily.FourBit)
    {
        Kernels = KernelEntry.Create<FourBitKernel<Fp4Code>>,
        Dot = DotEntry.CreateRows<FourBitDot<Fp4Code>>,
    };
}
