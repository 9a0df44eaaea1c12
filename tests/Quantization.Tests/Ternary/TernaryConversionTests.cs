using Quantization.Ternary;
using Quantization.Tests.Support;

namespace Quantization.Tests.Ternary;

public sealed class TernaryConversionTests
{
    /// <summary>Ternary values ±a and 0 with a exact in FP16; every 256-value block holds a nonzero value.</summary>
    private static float[] TernaryValues(ulong seed, int n, float a)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            int code = (int)(rng.NextUInt64() % 3) - 1;
            x[i] = code == 0 ? 0f : code * a;
        }

        for (int b = 0; b < n; b += 256)
        {
            x[b] = a;
        }

        return x;
    }

    private static byte[] Quantize(QuantType type, float[] x)
    {
        var q = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, q, 256);
        return q;
    }

    [Theory]
    [InlineData(1UL, 256, 1f)]
    [InlineData(2UL, 1024, 0.015625f)]
    [InlineData(3UL, 4096, 0.0234375f)] // 3·2⁻⁷: exact in FP16
    [InlineData(4UL, 512, -0.5f)]        // a negative scale: still exact in both formats
    public void BothDirectionsAreByteForByte(ulong seed, int n, float a)
    {
        float[] x = TernaryValues(seed, n, a);
        byte[] i2s = Quantize(QuantType.I2_S, x);
        byte[] tq2 = Quantize(QuantType.TQ2_0, x);
        if (a < 0)
        {
            // Quantizers always produce a positive scale; build the negative-scale tensors by hand: negate the scale and
            // mirror the codes, which keeps every value.
            i2s = MirrorI2S(Quantize(QuantType.I2_S, x.Select(v => -v).ToArray()));
            tq2 = MirrorTQ2(Quantize(QuantType.TQ2_0, x.Select(v => -v).ToArray()));
        }

        var toTq2 = new byte[tq2.Length];
        Assert.Equal(n, TernaryConversion.I2SToTQ2_0(i2s, toTq2));
        Assert.Equal(tq2, toTq2);

        var toI2s = new byte[i2s.Length];
        Assert.Equal(n, TernaryConversion.TQ2_0ToI2S(tq2, toI2s));
        Assert.Equal(i2s, toI2s);

        float[] fromI2s = new float[n], fromTq2 = new float[n];
        Quantizer.Dequantize(QuantType.I2_S, i2s, fromI2s);
        Quantizer.Dequantize(QuantType.TQ2_0, tq2, fromTq2);
        AssertBytes.Equal(fromI2s, fromTq2, QuantType.TQ2_0);
        // The mirrored tensors hold −x; their zeros are −0 (0 times a negative scale).
        AssertBytes.Equal(a < 0 ? [.. x.Select(v => -v)] : x, fromI2s, QuantType.I2_S);
    }

    private static byte[] MirrorI2S(byte[] q)
    {
        byte[] m = (byte[])q.Clone();
        for (int i = 0; i < m.Length - 32; i++)
        {
            m[i] = (byte)(0xAA - m[i]); // each code c → 2 − c (no code is 3)
        }

        BitConverter.TryWriteBytes(m.AsSpan(m.Length - 32), -BitConverter.ToSingle(m, m.Length - 32));
        return m;
    }

    private static byte[] MirrorTQ2(byte[] q)
    {
        byte[] m = (byte[])q.Clone();
        for (int b = 0; b < m.Length; b += 66)
        {
            for (int j = 0; j < 64; j++)
            {
                m[b + j] = (byte)(0xAA - m[b + j]);
            }

            m[b + 65] ^= 0x80;
        }

        return m;
    }

    [Fact]
    public void HandWorkedCodesMapOneToOne()
    {
        // I2_S byte 0x85 (codes 2, 0, 1, 1 for elements 0, 32, 64, 96) is TQ2_0's 0x52 (same codes, low bits first);
        // I2_S's unused code 3 (zero) becomes TQ2_0's zero code 1: 0xFF → 0x55.
        var i2s = new byte[64 + 32];
        i2s.AsSpan(0, 64).Fill(0x55);
        i2s[0] = 0x85;
        i2s[1] = 0xFF;
        BitConverter.TryWriteBytes(i2s.AsSpan(64), 0.5f);
        var tq2 = new byte[66];
        TernaryConversion.I2SToTQ2_0(i2s, tq2);
        Assert.Equal(0x52, tq2[0]);
        Assert.Equal(0x55, tq2[1]);
        Assert.All(tq2[2..64], b => Assert.Equal(0x55, b));
        Assert.Equal([0x00, 0x38], tq2[64..]); // FP16 0.5
    }

    [Fact]
    public void ScaleWithoutAnExactFp16FormIsRejected()
    {
        float[] x = TernaryValues(5, 256, 0.1f); // 0.1 is not an FP16 value
        byte[] i2s = Quantize(QuantType.I2_S, x);
        var tq2 = new byte[66];
        var ex = Assert.Throws<ArgumentException>(() => TernaryConversion.I2SToTQ2_0(i2s, tq2));
        Assert.Equal("source", ex.ParamName);
        Assert.Contains("FP16", ex.Message);
        Assert.All(tq2, b => Assert.Equal(0, b));
    }

    [Fact]
    public void DifferentBlockScalesAreRejected()
    {
        float[] x = TernaryValues(6, 512, 1f);
        x.AsSpan(256).Clear();
        x[256] = 2f; // block 1 has d = 2
        byte[] tq2 = Quantize(QuantType.TQ2_0, x);
        var i2s = new byte[Quantizer.GetByteCount(QuantType.I2_S, 512)];
        var ex = Assert.Throws<ArgumentException>(() => TernaryConversion.TQ2_0ToI2S(tq2, i2s));
        Assert.Contains("block 1", ex.Message);
        Assert.All(i2s, b => Assert.Equal(0, b));
    }

    [Fact]
    public void AllZeroBlocksMayHaveAnyScale()
    {
        // TQ2_0 quantizes an all-zero block with d = 0; its zeros are the same +0 as those of scale 1.
        float[] x = TernaryValues(7, 768, 1f);
        x.AsSpan(256, 256).Clear();
        byte[] tq2 = Quantize(QuantType.TQ2_0, x);
        Assert.Equal(0, tq2[66 + 64] | tq2[66 + 65]);
        var i2s = new byte[Quantizer.GetByteCount(QuantType.I2_S, 768)];
        TernaryConversion.TQ2_0ToI2S(tq2, i2s);
        Assert.Equal(Quantize(QuantType.I2_S, x), i2s);
    }

    [Fact]
    public void CodeThreeIsRejected()
    {
        byte[] tq2 = Quantize(QuantType.TQ2_0, TernaryValues(8, 256, 1f));
        tq2[10] |= 0x30; // element 64 + 10: code 3 (+2·d)
        var ex = Assert.Throws<ArgumentException>(() => TernaryConversion.TQ2_0ToI2S(tq2, new byte[96]));
        Assert.Contains("code 3", ex.Message);
    }

    [Fact]
    public void LengthsAreChecked()
    {
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => TernaryConversion.I2SToTQ2_0(new byte[31], new byte[66])).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => TernaryConversion.I2SToTQ2_0(new byte[32 + 32], new byte[66])).ParamName); // 128 values
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => TernaryConversion.I2SToTQ2_0(new byte[64 + 32], new byte[65])).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => TernaryConversion.TQ2_0ToI2S(new byte[65], new byte[96])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => TernaryConversion.TQ2_0ToI2S(new byte[66], new byte[95])).ParamName);
    }
}
