using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>I2_S: bitnet.cpp's ternary I2_S: 2-bit codes and one float32 scale per tensor; dot with I8_S activations.</summary>
internal sealed class I2_SFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.I2_S, "i2_s", blockSize: 128, bytesPerBlock: BlockI2_S.Size, FormatFamily.Ternary)
    {
        TrailerBytes = 32,
        Kernels = KernelEntry.CreateWithTrailer<I2_SKernel>,
        Dot = DotEntry.CreateWithTrailer<I2_SDot>,
    };
}
