using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>I8_S: bitnet.cpp's per-token int8 activations with a scale and code-sum trailer: the activations of the I2_S dot.</summary>
internal sealed class I8_SFormat : IFormat
{
    public static FormatDescriptor Descriptor { get; } = new(QuantType.I8_S, "i8_s", blockSize: 1, bytesPerBlock: 1, FormatFamily.Ternary)
    {
        TrailerBytes = 32,
        Role = FormatRole.Activation,
        Kernels = KernelEntry.CreateWithTrailer<I8_SKernel>,
    };
}
