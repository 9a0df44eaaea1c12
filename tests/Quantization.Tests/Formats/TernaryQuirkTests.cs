using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Oracle;

namespace Quantization.Tests.Formats;

/// <summary>
/// The rounding quirks of ggml's ternary quantizers, each on an input where it changes the bytes: our bytes equal native
/// ggml's (on x64, the byte reference), and a variant written here with the quirk removed gives different bytes.
/// </summary>
public sealed class TernaryQuirkTests
{
    /// <summary>A TQ2_0 quantizer written from the spec, with the rounding rule and the id = ∞ handling as switches.</summary>
    private static byte[] TQ2_0Variant(float[] x, bool halfAwayFromZero, bool infiniteProductIsZeroCode = true)
    {
        var y = new byte[x.Length / 256 * 66];
        for (int b = 0; b < x.Length / 256; b++)
        {
            float d = 0;
            for (int j = 0; j < 256; j++)
            {
                d = Math.Max(d, Math.Abs(x[b * 256 + j]));
            }

            float id = d != 0 ? 1 / d : 0;
            for (int e = 0; e < 256; e++)
            {
                float v = x[b * 256 + e] * id;
                int code = !float.IsFinite(v) ? (infiniteProductIsZeroCode ? 1 : (v > 0 ? 2 : 0))
                    : (int)MathF.Round(v, halfAwayFromZero ? MidpointRounding.AwayFromZero : MidpointRounding.ToEven) + 1;
                y[b * 66 + e / 128 * 32 + e % 32] |= (byte)(code << (2 * (e % 128 / 32)));
            }

            ushort h = BitConverter.HalfToUInt16Bits((Half)d);
            y[b * 66 + 64] = (byte)h;
            y[b * 66 + 65] = (byte)(h >> 8);
        }

        return y;
    }

    private static byte[] Ours(QuantType type, float[] x)
    {
        var q = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, q, x.Length);
        return q;
    }

    [Fact]
    public void LroundfRoundsHalfAwayFromZero()
    {
        // amax = 1, so id = 1 and x·id = ±0.5 exactly: lroundf gives ±1 (codes 2 and 0), round-half-even 0 (code 1).
        var x = new float[256];
        x[0] = 1;
        x[1] = 0.5f;
        x[2] = -0.5f;
        x[3] = 0.49999997f; // the float just below 0.5 rounds to 0 under both rules
        byte[] ours = Ours(QuantType.TQ2_0, x);

        Assert.Equal(0x56, ours[0]);          // element 0: code 2 (others in the byte: zero code 1)
        Assert.Equal(0x56, ours[1]);          // element 1: 0.5 → code 2
        Assert.Equal(0x54, ours[2]);          // element 2: −0.5 → code 0
        Assert.Equal(0x55, ours[3]);          // element 3: code 1
        Assert.Equal(ours, TQ2_0Variant(x, halfAwayFromZero: true));
        Assert.NotEqual(ours, TQ2_0Variant(x, halfAwayFromZero: false));

        // The quirk-free input (no exact halves) gives the same bytes under both rules: the ties are what discriminates.
        float[] noTies = [.. x];
        noTies[1] = 0.50000006f;
        noTies[2] = -0.49999997f;
        Assert.Equal(TQ2_0Variant(noTies, halfAwayFromZero: true), TQ2_0Variant(noTies, halfAwayFromZero: false));
        Assert.Equal(TQ2_0Variant(noTies, halfAwayFromZero: true), Ours(QuantType.TQ2_0, noTies));

        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.TQ2_0, x, 256), ours);
            Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.TQ1_0, x, 256), Ours(QuantType.TQ1_0, x));
        }

        // TQ1_0 stores the same trits: element 1 is trit 0 of qs[1], element 2 trit 0 of qs[2].
        byte[] tq1 = Ours(QuantType.TQ1_0, x);
        Assert.Equal(2, TQ1_0Reference.Trit(tq1[1], 0));
        Assert.Equal(0, TQ1_0Reference.Trit(tq1[2], 0));
    }

    [Fact]
    public void BlockOfTinySubnormalsGetsTheZeroCode()
    {
        // amax < 2⁻¹²⁸: 1/amax overflows to +∞, x·id is ±∞ (NaN for zeros); x86 lroundf returns LONG_MIN and
        // (int)(LONG_MIN + 1) is 1, the zero code, for every value. d rounds to FP16 zero.
        var x = new float[512];
        for (int i = 0; i < 256; i++)
        {
            x[i] = BitConverter.Int32BitsToSingle(i % 7) * (i % 2 == 0 ? 1 : -1);
        }

        x.AsSpan(0, 256).CopyTo(x.AsSpan(256));
        x[300] = 1; // the second block is ordinary

        foreach (QuantType type in new[] { QuantType.TQ1_0, QuantType.TQ2_0 })
        {
            byte[] ours = Ours(type, x);
            KernelEntry kernel = KernelRegistry.TryGet(type)!;
            var reference = new byte[ours.Length];
            kernel.QuantizeReference!(x, reference, default);
            Assert.Equal(reference, ours);
            if (GgmlNative.IsByteReference)
            {
                Assert.Equal(GgmlNative.QuantizeChunk((int)type, x, 256), ours);
            }
        }

        byte[] tq2 = Ours(QuantType.TQ2_0, x);
        Assert.All(tq2[..64], b => Assert.Equal(0x55, b));
        Assert.Equal(tq2, TQ2_0Variant(x, halfAwayFromZero: true));
        Assert.NotEqual(tq2, TQ2_0Variant(x, halfAwayFromZero: true, infiniteProductIsZeroCode: false));
    }
}
