using System.Runtime.CompilerServices;
using Quantization.Formats;
using Quantization.Oracle;

namespace Quantization.Tests.Formats;

public sealed class LayoutTests
{
    [Fact]
    public void BlockStructsHaveGgmlSizes()
    {
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(20, Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(22, Unsafe.SizeOf<BlockQ5_0>());
        Assert.Equal(24, Unsafe.SizeOf<BlockQ5_1>());
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(36, Unsafe.SizeOf<BlockQ8_1>());
        Assert.Equal(292, Unsafe.SizeOf<BlockQ8_K>());
        Assert.Equal(BlockQ4_0.Size, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(BlockQ8_K.Size, Unsafe.SizeOf<BlockQ8_K>());
    }

    [Fact]
    public void FieldOffsetsMatchGgmlCommon()
    {
        var q5 = default(BlockQ5_1);
        Assert.Equal(4, (int)Unsafe.ByteOffset(ref Unsafe.As<BlockQ5_1, byte>(ref q5), ref Unsafe.As<uint, byte>(ref q5.Qh)));
        Assert.Equal(8, (int)Unsafe.ByteOffset(ref Unsafe.As<BlockQ5_1, byte>(ref q5), ref q5.Qs[0]));
        var q8k = default(BlockQ8_K);
        Assert.Equal(260, (int)Unsafe.ByteOffset(ref Unsafe.As<BlockQ8_K, byte>(ref q8k), ref Unsafe.As<short, byte>(ref q8k.Bsums[0])));
    }

    [Fact]
    public void EveryFormatMatchesGgmlTypeTraits()
    {
        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
        foreach (QuantFormat f in QuantFormat.All.Where(f => f.IsGgmlType))
        {
            Assert.Equal(f.Name, GgmlNative.TypeName((int)f.Type));
            Assert.Equal(f.BlockSize, GgmlNative.BlockSize((int)f.Type));
            Assert.Equal((ulong)f.BytesPerBlock, (ulong)GgmlNative.TypeSize((int)f.Type));
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(31)]
    [InlineData(36)]
    [InlineData(43)]
    [InlineData(-1)]
    public void RemovedAndUnknownIdsAreRejected(int id)
    {
        Assert.False(QuantFormat.TryGet((QuantType)id, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantFormat.Get((QuantType)id));
        Assert.Throws<ArgumentOutOfRangeException>(() => Quantizer.GetByteCount((QuantType)id, 32));
    }

    [Fact]
    public void BitsPerWeightAndParsing()
    {
        Assert.Equal(4.5, QuantFormat.Get(QuantType.Q4_0).BitsPerWeight);
        Assert.Equal(8.5, QuantFormat.Get(QuantType.Q8_0).BitsPerWeight);
        Assert.Equal(4.5, QuantFormat.Get(QuantType.Q4_K).BitsPerWeight);
        Assert.True(QuantFormat.TryParse("q4_K", out QuantFormat? f) && f.Type == QuantType.Q4_K);
        Assert.True(QuantFormat.TryParse("Q5_1", out f) && f.Type == QuantType.Q5_1);
        Assert.False(QuantFormat.TryParse("q9_9", out _));
    }
}
