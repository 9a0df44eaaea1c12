using System.Runtime.CompilerServices;
using Quantization.Formats;

namespace Quantization.Tests.Formats;

public sealed class KQuant236LayoutTests
{
    private static int Offset<TBlock, TField>(ref TBlock block, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TBlock, byte>(ref block), ref Unsafe.As<TField, byte>(ref field));

    [Fact]
    public void Q2_KMatchesGgmlCommon()
    {
        Assert.Equal(84, Unsafe.SizeOf<BlockQ2_K>());
        Assert.Equal(BlockQ2_K.Size, Unsafe.SizeOf<BlockQ2_K>());
        var b = default(BlockQ2_K);
        Assert.Equal(0, Offset(ref b, ref b.Scales[0]));
        Assert.Equal(16, Offset(ref b, ref b.Qs[0]));
        Assert.Equal(80, Offset(ref b, ref b.D));
        Assert.Equal(82, Offset(ref b, ref b.Dmin));
    }

    [Fact]
    public void Q3_KMatchesGgmlCommon()
    {
        Assert.Equal(110, Unsafe.SizeOf<BlockQ3_K>());
        Assert.Equal(BlockQ3_K.Size, Unsafe.SizeOf<BlockQ3_K>());
        var b = default(BlockQ3_K);
        Assert.Equal(0, Offset(ref b, ref b.Hmask[0]));
        Assert.Equal(32, Offset(ref b, ref b.Qs[0]));
        Assert.Equal(96, Offset(ref b, ref b.Scales[0]));
        Assert.Equal(108, Offset(ref b, ref b.D));
    }

    [Fact]
    public void Q6_KMatchesGgmlCommon()
    {
        Assert.Equal(210, Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(BlockQ6_K.Size, Unsafe.SizeOf<BlockQ6_K>());
        var b = default(BlockQ6_K);
        Assert.Equal(0, Offset(ref b, ref b.Ql[0]));
        Assert.Equal(128, Offset(ref b, ref b.Qh[0]));
        Assert.Equal(192, Offset(ref b, ref b.Scales[0]));
        Assert.Equal(208, Offset(ref b, ref b.D));
    }

    [Fact]
    public void Q3_KScalePackingRoundTripsEverySixBitValue()
    {
        Span<byte> scales = stackalloc byte[12];
        for (int u0 = 0; u0 < 64; u0++)
        {
            scales.Clear();
            for (int j = 0; j < 16; j++)
            {
                BlockQ3_K.SetScale(scales, j, (u0 + 5 * j) & 63);
            }

            for (int j = 0; j < 16; j++)
            {
                Assert.Equal(((u0 + 5 * j) & 63) - 32, BlockQ3_K.GetScale(scales, j));
            }
        }
    }
}
