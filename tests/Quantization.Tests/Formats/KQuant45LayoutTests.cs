using System.Runtime.CompilerServices;
using Quantization.Formats;

namespace Quantization.Tests.Formats;

/// <summary>Q4_K / Q5_K block layouts against ggml-common.h (docs/formats.md#q4_k, docs/formats.md#q5_k).</summary>
public sealed class KQuant45LayoutTests
{
    [Fact]
    public void BlockSizesMatchGgml()
    {
        Assert.Equal(144, Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(176, Unsafe.SizeOf<BlockQ5_K>());
        int[] declared = [BlockQ4_K.Size, BlockQ5_K.Size];
        Assert.Equal([Unsafe.SizeOf<BlockQ4_K>(), Unsafe.SizeOf<BlockQ5_K>()], declared);
        Assert.Equal([QuantFormat.Get(QuantType.Q4_K).BytesPerBlock, QuantFormat.Get(QuantType.Q5_K).BytesPerBlock], declared);
    }

    [Fact]
    public void FieldOffsetsMatchGgmlCommon()
    {
        var q4 = default(BlockQ4_K);
        ref byte b4 = ref Unsafe.As<BlockQ4_K, byte>(ref q4);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref b4, ref Unsafe.As<ushort, byte>(ref q4.DMin)));
        Assert.Equal(4, (int)Unsafe.ByteOffset(ref b4, ref q4.Scales[0]));
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref b4, ref q4.Qs[0]));

        var q5 = default(BlockQ5_K);
        ref byte b5 = ref Unsafe.As<BlockQ5_K, byte>(ref q5);
        Assert.Equal(2, (int)Unsafe.ByteOffset(ref b5, ref Unsafe.As<ushort, byte>(ref q5.DMin)));
        Assert.Equal(4, (int)Unsafe.ByteOffset(ref b5, ref q5.Scales[0]));
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref b5, ref q5.Qh[0]));
        Assert.Equal(48, (int)Unsafe.ByteOffset(ref b5, ref q5.Qs[0]));
    }

    [Fact]
    public void ScaleMinPackingRoundTrips()
    {
        var rng = new Support.TestRng(45);
        Span<byte> q = stackalloc byte[12];
        Span<byte> sc = stackalloc byte[8];
        Span<byte> m = stackalloc byte[8];
        for (int trial = 0; trial < 200; ++trial)
        {
            for (int j = 0; j < 8; ++j)
            {
                sc[j] = (byte)rng.NextInt(64);
                m[j] = (byte)rng.NextInt(64);
                KScales.Set(j, q, sc[j], m[j]);
            }

            for (int j = 0; j < 8; ++j)
            {
                KScales.Get(j, q, out int s, out int mm);
                Assert.Equal(sc[j], s);
                Assert.Equal(m[j], mm);
            }
        }
    }
}
