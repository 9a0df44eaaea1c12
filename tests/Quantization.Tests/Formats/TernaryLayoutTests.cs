using System.Runtime.CompilerServices;
using Quantization.Formats;
using Quantization.Oracle;

namespace Quantization.Tests.Formats;

/// <summary>
/// TQ1_0, TQ2_0 and I2_S layouts checked against blocks whose bytes are worked out by hand from the specs
/// (docs/formats.md#tq1_0, docs/formats.md#tq2_0, docs/formats.md#i2_s): every expected byte below is a literal, not computed by the code under test.
/// </summary>
public sealed class TernaryLayoutTests
{
    [Fact]
    public void BlockStructsHaveTheirSizes()
    {
        Assert.Equal(54, Unsafe.SizeOf<BlockTQ1_0>());
        Assert.Equal(BlockTQ1_0.Size, QuantFormat.Get(QuantType.TQ1_0).BytesPerBlock);
        Assert.Equal(66, Unsafe.SizeOf<BlockTQ2_0>());
        Assert.Equal(BlockTQ2_0.Size, QuantFormat.Get(QuantType.TQ2_0).BytesPerBlock);
        Assert.Equal(32, Unsafe.SizeOf<BlockI2_S>());
        QuantFormat i2s = QuantFormat.Get(QuantType.I2_S);
        Assert.Equal(("i2_s", 128, 32, 32, 2.0), (i2s.Name, i2s.BlockSize, i2s.BytesPerBlock, i2s.TrailerBytes, i2s.BitsPerWeight));
        Assert.False(i2s.IsGgmlType);
    }

    [Fact]
    public void ScaleComesLast()
    {
        var t1 = default(BlockTQ1_0);
        ref byte b1 = ref Unsafe.As<BlockTQ1_0, byte>(ref t1);
        Assert.Equal(48, (int)Unsafe.ByteOffset(ref b1, ref t1.Qh[0]));
        Assert.Equal(52, (int)Unsafe.ByteOffset(ref b1, ref Unsafe.As<ushort, byte>(ref t1.D)));
        var t2 = default(BlockTQ2_0);
        Assert.Equal(64, (int)Unsafe.ByteOffset(ref Unsafe.As<BlockTQ2_0, byte>(ref t2), ref Unsafe.As<ushort, byte>(ref t2.D)));
    }

    /// <summary>A 256-value block of zeros with a few ±1: d = 1 (FP16 0x3C00), zero code 1 everywhere else.</summary>
    private static float[] SparseBlock(params (int Index, float Value)[] values)
    {
        var x = new float[256];
        foreach ((int i, float v) in values)
        {
            x[i] = v;
        }

        return x;
    }

    [Fact]
    public void TQ2_0HandWorkedBlock()
    {
        float[] x = SparseBlock((0, 1), (33, -1), (66, 1), (99, -1), (133, 1), (255, 1));

        // Byte 32c + m: elements 128c + m, +32, +64, +96 at bits 1:0, 3:2, 5:4, 7:6. All-zero codes (1,1,1,1) = 0x55.
        byte[] expected = [.. Enumerable.Repeat((byte)0x55, 64), 0x00, 0x3C];
        expected[0] = 0x56;  // elements 0, 32, 64, 96: codes 2, 1, 1, 1
        expected[1] = 0x51;  // elements 1, 33, 65, 97: codes 1, 0, 1, 1
        expected[2] = 0x65;  // elements 2, 34, 66, 98: codes 1, 1, 2, 1
        expected[3] = 0x15;  // elements 3, 35, 67, 99: codes 1, 1, 1, 0
        expected[37] = 0x56; // elements 133, 165, 197, 229: codes 2, 1, 1, 1
        expected[63] = 0x95; // elements 159, 191, 223, 255: codes 1, 1, 1, 2

        AssertQuantizesTo(QuantType.TQ2_0, x, expected);
    }

    [Fact]
    public void TQ1_0HandWorkedBlock()
    {
        float[] x = SparseBlock((0, 1), (129, -1), (178, 1), (240, 1), (253, -1));

        // Five zero codes: 1·81 + 1·27 + 1·9 + 1·3 + 1 = 121, stored as ceil(121·256/243) = 128.
        // Four zero codes in qh: (27 + 9 + 3 + 1)·3 = 120, stored as ceil(120·256/243) = 127.
        byte[] expected = [.. Enumerable.Repeat((byte)128, 48), 127, 127, 127, 127, 0x00, 0x3C];
        expected[0] = 213;  // elements 0, 32, 64, 96, 128: trits 2,1,1,1,1 = 202; ceil(202·256/243) = ceil(212.8)
        expected[1] = 127;  // elements 1, 33, 65, 97, 129: trits 1,1,1,1,0 = 120; ceil(126.4)
        expected[34] = 156; // elements 162, 178, 194, 210, 226: trits 1,2,1,1,1 = 148; ceil(155.9)
        expected[48] = 212; // qh[0], elements 240, 244, 248, 252: trits 2,1,1,1 = 67, ×3 = 201; ceil(211.7)
        expected[49] = 124; // qh[1], elements 241, 245, 249, 253: trits 1,1,1,0 = 39, ×3 = 117; ceil(123.3)

        AssertQuantizesTo(QuantType.TQ1_0, x, expected);
    }

    [Fact]
    public void I2_SHandWorkedTensor()
    {
        var x = new float[128];
        x[0] = 2;
        x[32] = -2;
        x[65] = 2;
        x[127] = -2;
        x[5] = 1e-7f;  // below bitnet.cpp's 1e-6: the zero code
        x[6] = 2e-6f;  // above it: +1 by its sign

        // Byte j: elements j (bits 7:6), j+32 (5:4), j+64 (3:2), j+96 (1:0); all-zero codes 1,1,1,1 = 0x55.
        byte[] expected = new byte[32 + 32];
        expected.AsSpan(0, 32).Fill(0x55);
        expected[0] = 0x85;  // elements 0, 32, 64, 96: codes 2, 0, 1, 1
        expected[1] = 0x59;  // elements 1, 33, 65, 97: codes 1, 1, 2, 1
        expected[6] = 0x95;  // elements 6, 38, 70, 102: codes 2, 1, 1, 1
        expected[31] = 0x54; // elements 31, 63, 95, 127: codes 1, 1, 1, 0
        expected[34] = 0x00; // trailer: float32 2.0 = 0x40000000, little-endian, then 28 zero bytes
        expected[35] = 0x40;

        AssertQuantizesTo(QuantType.I2_S, x, expected);

        var y = new float[128];
        Quantizer.Dequantize(QuantType.I2_S, expected, y);
        Assert.Equal([2f, 0f, 0f, 0f, 0f, 0f, 2f], y[..7]);
        Assert.Equal(-2f, y[32]);
        Assert.Equal(-2f, y[127]);
    }

    [Fact]
    public void I2_SUnusedCodeThreeReadsAsZeroAndScaleIsPerTensor()
    {
        // Two blocks and a trailer of 3.0: block 0 all code 3, block 1 all code 2.
        var bytes = new byte[64 + 32];
        bytes.AsSpan(0, 32).Fill(0xFF);
        bytes.AsSpan(32, 32).Fill(0xAA);
        BitConverter.TryWriteBytes(bytes.AsSpan(64), 3f);
        var y = new float[256];
        Quantizer.Dequantize(QuantType.I2_S, bytes, y);
        Assert.All(y[..128], v => Assert.Equal(0f, v));
        Assert.All(y[128..], v => Assert.Equal(3f, v));
    }

    [Fact]
    public void I2_SByteCountIsBitnetCppsSize()
    {
        // quantize_i2_s returns nrow·row_size/4 + 32 with ggml_row_size(I2_S, n) = n: n/4 + 32.
        Assert.Equal(4096 * 4096 / 4 + 32, Quantizer.GetByteCount(QuantType.I2_S, 4096 * 4096));
        Assert.Equal(32, Quantizer.GetByteCount(QuantType.I2_S, 0));
        Assert.Equal("elementCount", Assert.Throws<ArgumentException>(() => Quantizer.GetByteCount(QuantType.I2_S, 64)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(QuantType.I2_S, new byte[32 + 31], new float[128])).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(QuantType.I2_S, new byte[31], new float[128])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.I2_S, new float[128], new byte[32 + 31], 128)).ParamName);
    }

    [Fact]
    public void EveryTritVectorPacksAndUnpacks()
    {
        // All 243 five-trit values: the ceil(v·256/243) byte decodes back to the same trits by multiply-and-shift.
        for (int v = 0; v < 243; v++)
        {
            byte stored = TQ1_0Reference.CeilScale((byte)v);
            Assert.Equal((v * 256 + 242) / 243, stored);
            for (int n = 0; n < 5; n++)
            {
                int trit = v / (int)Math.Pow(3, 4 - n) % 3;
                Assert.Equal(trit, TQ1_0Reference.Trit(stored, n));
            }
        }
    }

    [Fact]
    public void VectorPackingStepsEqualTheScalarOnes()
    {
        for (int v0 = 0; v0 < 256; v0 += 16)
        {
            var bytes = new byte[16];
            for (int i = 0; i < 16; i++)
            {
                bytes[i] = (byte)Math.Min(242, v0 + i);
            }

            var lanes = System.Runtime.Intrinsics.Vector128.Create(bytes);
            byte[] ceil = new byte[16], trit = new byte[16];
            System.Runtime.Intrinsics.Vector128.CopyTo(TernaryBlocks.CeilScale(lanes), ceil);
            for (int i = 0; i < 16; i++)
            {
                bytes[i] = (byte)(v0 + i);
            }

            System.Runtime.Intrinsics.Vector128.CopyTo(TernaryBlocks.TritOf(System.Runtime.Intrinsics.Vector128.Create(bytes)), trit);
            for (int i = 0; i < 16; i++)
            {
                Assert.Equal(TQ1_0Reference.CeilScale((byte)Math.Min(242, v0 + i)), ceil[i]);
                Assert.Equal((bytes[i] * 3) >> 8, trit[i]);
            }
        }
    }

    private static void AssertQuantizesTo(QuantType type, float[] x, byte[] expected)
    {
        var ours = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, ours, x.Length);
        Assert.Equal(expected, ours);

        KernelEntryReferenceEquals(type, x, expected);
        if (type != QuantType.I2_S && GgmlNative.IsByteReference)
        {
            Assert.Equal(expected, GgmlNative.QuantizeChunk((int)type, x, x.Length));
        }

        // The values are exactly representable: the round trip gives them back.
        var y = new float[x.Length];
        Quantizer.Dequantize(type, expected, y);
        Assert.Equal(x.Select(v => Math.Abs(v) < 1e-6f ? 0f : Math.Sign(v) * x.Max(Math.Abs)), y);
    }

    private static void KernelEntryReferenceEquals(QuantType type, float[] x, byte[] expected)
    {
        Quantization.Kernels.KernelEntry kernel = Quantization.Kernels.KernelRegistry.TryGet(type)!;
        var reference = new byte[expected.Length];
        kernel.QuantizeReference!(x, reference, default);
        Assert.Equal(expected, reference);
    }
}
