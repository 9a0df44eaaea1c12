using System.Runtime.CompilerServices;
using Quantization.Formats;
using Quantization.Oracle;

namespace Quantization.Tests.Formats;

/// <summary>
/// Q1_0 and Q2_0 layouts and quirks checked against blocks worked out by hand (docs/formats.md#q1_0,
/// docs/formats.md#q2_0): every expected byte and float below is a literal, and the same blocks go through ggml where it loads.
/// </summary>
public sealed class Q1Q2LayoutTests
{
    [Fact]
    public void BlockStructsHaveTheirSizes()
    {
        Assert.Equal(18, Unsafe.SizeOf<BlockQ1_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ2_0>());
        QuantFormat q1 = QuantFormat.Get(QuantType.Q1_0);
        QuantFormat q2 = QuantFormat.Get(QuantType.Q2_0);
        Assert.Equal(("q1_0", 128, 18), (q1.Name, q1.BlockSize, q1.BytesPerBlock));
        Assert.Equal(("q2_0", 64, 18), (q2.Name, q2.BlockSize, q2.BytesPerBlock));
    }

    /// <summary>
    /// d = 2 (FP16 0x4000); qs[0] = 0b1000_0101 → elements 0, 2, 7 are +2 and the rest of byte 0 −2; qs[15] = 0x80 →
    /// element 127 is +2 (bit j % 8 of byte j / 8, least significant first).
    /// </summary>
    [Fact]
    public void Q1_0BitOrderIsLeastSignificantFirst()
    {
        byte[] block = new byte[18];
        block[0] = 0x00;
        block[1] = 0x40;
        block[2] = 0b1000_0101;
        block[17] = 0x80;
        float[] expected = [.. Enumerable.Repeat(-2f, 128)];
        expected[0] = expected[2] = expected[7] = expected[127] = 2f;
        AssertDequantizes(QuantType.Q1_0, block, expected);
    }

    /// <summary>d = 0.5 (FP16 0x3800); qs[0] = 0b11_10_01_00 → elements 0..3 = −0.5, 0, 0.5, 1; code 3 (+2·d) decodes.</summary>
    [Fact]
    public void Q2_0FieldOrderIsLowBitsFirst()
    {
        byte[] block = new byte[18];
        block[1] = 0x38;
        block[2] = 0b11_10_01_00;
        for (int j = 3; j < 18; j++)
        {
            block[j] = 0x55; // code 1 everywhere else: 0
        }

        block[17] = 0b10_01_01_00; // elements 60..63 = −0.5, 0, 0, 0.5
        float[] expected = new float[64];
        expected[0] = -0.5f;
        expected[2] = 0.5f;
        expected[3] = 1f;
        expected[60] = -0.5f;
        expected[63] = 0.5f;
        AssertDequantizes(QuantType.Q2_0, block, expected);
    }

    /// <summary>
    /// Q1_0 keeps only signs and the mean magnitude: zeros of either sign count as positive. Values: 3 at element 0,
    /// −1 at element 9, −0 at element 10, +0 elsewhere; Σ|x| / 128 = 4 / 128 = 0.03125 (FP16 0x2800).
    /// </summary>
    [Fact]
    public void Q1_0ZerosOfEitherSignArePositive()
    {
        float[] x = new float[128];
        x[0] = 3;
        x[9] = -1;
        x[10] = -0f;
        byte[] expected = [0x00, 0x28, .. Enumerable.Repeat((byte)0xFF, 16)];
        expected[3] = 0b1111_1101; // element 9 negative
        AssertQuantizes(QuantType.Q1_0, x, expected);
    }

    /// <summary>
    /// Q2_0: d = max |x| = 4 (FP16 0x4400), codes roundf(x / 4) + 1 with halves away from zero: 2 → 2, −2 → 0, 1.9 → 1,
    /// −4 → 0, 4 → 2, 0 → 1.
    /// </summary>
    [Fact]
    public void Q2_0RoundsHalvesAwayFromZero()
    {
        float[] x = new float[64];
        x[0] = 2;
        x[1] = -2;
        x[2] = 1.9f;
        x[3] = -4;
        x[4] = 4;
        byte[] expected = [0x00, 0x44, .. Enumerable.Repeat((byte)0x55, 16)];
        expected[2] = 0b00_01_00_10; // elements 0..3: codes 2, 0, 1, 0
        expected[3] = 0b01_01_01_10; // element 4: code 2
        AssertQuantizes(QuantType.Q2_0, x, expected);
    }

    /// <summary>An all-zero Q2_0 block: d = 0, id = 0, every code 1 (0x55), dequantized to +0.</summary>
    [Fact]
    public void Q2_0ZeroBlockIsAllCodeOne()
    {
        byte[] expected = [0x00, 0x00, .. Enumerable.Repeat((byte)0x55, 16)];
        AssertQuantizes(QuantType.Q2_0, new float[64], expected);
        AssertDequantizes(QuantType.Q2_0, expected, new float[64]);
    }

    private static void AssertQuantizes(QuantType type, float[] x, byte[] expected)
    {
        byte[] ours = new byte[expected.Length];
        Quantizer.Quantize(type, x, ours, x.Length);
        Assert.Equal(expected, ours);
        byte[] reference = new byte[expected.Length];
        Kernels.KernelRegistry.TryGet(type)!.QuantizeReference!(x, reference, default);
        Assert.Equal(expected, reference);
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(expected, GgmlNative.QuantizeChunk((int)type, x, x.Length));
        }
    }

    private static void AssertDequantizes(QuantType type, byte[] block, float[] expected)
    {
        float[] ours = new float[expected.Length];
        Quantizer.Dequantize(type, block, ours);
        Assert.Equal(expected, ours);
        float[] reference = new float[expected.Length];
        Kernels.KernelRegistry.TryGet(type)!.DequantizeReference!(block, reference);
        Assert.Equal(expected, reference);
        if (GgmlNative.IsAvailable)
        {
            Assert.Equal(expected, GgmlNative.Dequantize((int)type, block));
        }
    }
}
