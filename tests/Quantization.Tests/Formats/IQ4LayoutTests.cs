using System.Runtime.CompilerServices;
using Quantization.Formats;

namespace Quantization.Tests.Formats;

public sealed class IQ4LayoutTests
{
    [Fact]
    public void BlockStructsHaveGgmlSizes()
    {
        Assert.Equal(18, Unsafe.SizeOf<BlockIQ4_NL>());
        Assert.Equal(BlockIQ4_NL.Size, Unsafe.SizeOf<BlockIQ4_NL>());
        Assert.Equal(136, Unsafe.SizeOf<BlockIQ4_XS>());
        Assert.Equal(BlockIQ4_XS.Size, Unsafe.SizeOf<BlockIQ4_XS>());
        Assert.Equal(BlockIQ4_NL.Size, QuantFormat.Get(QuantType.IQ4_NL).BytesPerBlock);
        Assert.Equal(BlockIQ4_XS.Size, QuantFormat.Get(QuantType.IQ4_XS).BytesPerBlock);
    }

    [Fact]
    public void FieldOffsetsMatchGgmlCommon()
    {
        var nl = default(BlockIQ4_NL);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref Unsafe.As<BlockIQ4_NL, byte>(ref nl), ref nl.Qs[0]));
        var xs = default(BlockIQ4_XS);
        ref byte b = ref Unsafe.As<BlockIQ4_XS, byte>(ref xs);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<ushort, byte>(ref xs.ScalesH)));
        Assert.Equal(4, (int)Unsafe.ByteOffset(ref b, ref xs.ScalesL[0]));
        Assert.Equal(8, (int)Unsafe.ByteOffset(ref b, ref xs.Qs[0]));
    }

    [Fact]
    public void SubBlockScaleUnpacksSixBits()
    {
        var xs = default(BlockIQ4_XS);
        // ls = 0b10_0101 for sub-block 3 (low nibble in the high half of ScalesL[1], high bits at bit 6 of ScalesH).
        xs.ScalesL[1] = 0x50;
        xs.ScalesH = 2 << 6;
        Assert.Equal(0b10_0101, xs.Scale(3));
        Assert.Equal(0, xs.Scale(2));
    }
}
