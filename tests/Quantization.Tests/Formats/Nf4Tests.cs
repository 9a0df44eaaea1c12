using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using Quantization.Formats;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>
/// NF4 / FP4 as <see cref="QuantType"/> blocks: code books against the published constants, the nearest / tie rule,
/// nibble order, zero blocks and round-trip bounds. Expected values are written out here, independent of the library.
/// </summary>
public sealed class Nf4Tests
{
    /// <summary>bitsandbytes' NF4 table (functional.py get_4bit_type("nf4"), csrc nf4 LUT), as published.</summary>
    internal static readonly double[] Nf4Published =
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ];

    /// <summary>bitsandbytes' FP4 raw table in bit-pattern order (sign bit 3), to be divided by its max, 12.</summary>
    internal static readonly double[] Fp4Raw = [0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3];

    internal static float[] Expected(QuantType type) => type == QuantType.NF4
        ? [.. Nf4Published.Select(v => (float)v)]
        : [.. Fp4Raw.Select(v => (float)(v / 12))];

    /// <summary>One block: codes[j] in element j (high nibble first), the given absmax.</summary>
    internal static byte[] Block(float absmax, Func<int, int> code)
    {
        var b = new byte[36];
        BitConverter.TryWriteBytes(b, absmax);
        for (int j = 0; j < 64; j += 2)
        {
            b[4 + j / 2] = (byte)((code(j) << 4) | code(j + 1));
        }

        return b;
    }

    [Fact]
    public void BlockLayout()
    {
        Assert.Equal(36, Unsafe.SizeOf<BlockNF4>());
        Assert.Equal(BlockNF4.Size, Unsafe.SizeOf<BlockNF4>());
        Assert.Equal(64, QuantFormat.Get(QuantType.NF4).BlockSize);
        Assert.Equal(36, QuantFormat.Get(QuantType.FP4).BytesPerBlock);
        Assert.Equal(4.5, QuantFormat.Get(QuantType.NF4).BitsPerWeight);
        Assert.False(QuantFormat.Get(QuantType.NF4).IsGgmlType);
    }

    [Fact]
    public void CodeBooksEqualThePublishedConstants()
    {
        for (int c = 0; c < 16; c++)
        {
            Assert.Equal((float)Nf4Published[c], Nf4Code.Values[c]);
            Assert.Equal(BitConverter.SingleToInt32Bits((float)(Fp4Raw[c] / 12)), BitConverter.SingleToInt32Bits(Fp4Code.Values[c]));
        }

        // The FP4 values as docs/formats.md#fp4 lists them (codes 0..7; 8..15 are their negatives, −0 included).
        double[] fp4Positive = [0, 0.005208333, 0.6666667, 1.0, 0.3333333, 0.5, 0.1666667, 0.25];
        for (int c = 0; c < 8; c++)
        {
            Assert.Equal(fp4Positive[c], Fp4Code.Values[c], 1e-7);
            Assert.Equal(-Fp4Code.Values[c], Fp4Code.Values[c + 8]);
        }

        Assert.True(float.IsNegative(Fp4Code.Values[8]));
    }

    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void DequantizeIsTableTimesAbsmaxWithHighNibbleFirst(QuantType type)
    {
        float[] table = Expected(type);
        // Element j holds code j % 16 for even j/16 runs, reversed for odd: every code in both nibble positions.
        byte[] block = Block(2.5f, j => (j / 16) % 2 == 0 ? j % 16 : 15 - j % 16);
        var y = new float[64];
        Quantizer.Dequantize(type, block, y);
        for (int j = 0; j < 64; j++)
        {
            int code = (j / 16) % 2 == 0 ? j % 16 : 15 - j % 16;
            Assert.Equal(BitConverter.SingleToInt32Bits(table[code] * 2.5f), BitConverter.SingleToInt32Bits(y[j]));
        }
    }

    [Fact]
    public void HandWorkedNf4Block()
    {
        var x = new float[64];
        x[0] = 2f;                                 // absmax 2: code 15
        x[1] = -2f;                                // code 0
        x[2] = 0f;                                 // code 7
        x[3] = 2f * 0.5626170039176941f;           // exactly 2 · NF4[13]: s = NF4[13], code 13
        x[4] = 0.5f;                               // s = 0.25: nearest 0.24611230 (code 10)
        x[5] = -0.2f;                              // s = −0.1: nearest −0.09105004 (code 6)
        var q = new byte[36];
        Quantizer.Quantize(QuantType.NF4, x, q, 64);
        byte[] expected = [0x00, 0x00, 0x00, 0x40, 0xF0, 0x7D, 0xA6, .. Enumerable.Repeat((byte)0x77, 29)];
        Assert.Equal(expected, q);
    }

    [Fact]
    public void HandWorkedFp4Block()
    {
        var x = new float[64];
        x[0] = -3f;   // absmax 3, s = −1: code 11 (−12/12)
        x[1] = 1f;    // s = 1/3: code 4
        x[2] = 0.75f; // s = 0.25: code 7
        x[3] = -1.5f; // s = −0.5: code 13
        var q = new byte[36];
        Quantizer.Quantize(QuantType.FP4, x, q, 64);
        byte[] expected = [0x00, 0x00, 0x40, 0x40, 0xB4, 0x7D, .. Enumerable.Repeat((byte)0x00, 30)];
        Assert.Equal(expected, q);
    }

    [Theory]
    [InlineData(QuantType.NF4, 0x77)]
    [InlineData(QuantType.FP4, 0x00)]
    public void AllZeroBlockHasAbsmaxZeroAndTheCodeOfZero(QuantType type, byte expectedByte)
    {
        var x = new float[128];
        x[64] = -0.0f;
        var q = new byte[72];
        Quantizer.Quantize(type, x, q, 128);
        byte[] block = [0, 0, 0, 0, .. Enumerable.Repeat(expectedByte, 32)];
        Assert.Equal([.. block, .. block], q);
        var y = new float[128];
        Quantizer.Dequantize(type, q, y);
        Assert.All(y, v => Assert.Equal(0, BitConverter.SingleToInt32Bits(v)));
    }

    /// <summary>
    /// An absmax so small that 1 / absmax overflows: ±absmax scale to ±∞ (clamped to ±1) and zeros to 0 · ∞ = NaN, which
    /// bitsandbytes' argmin maps to code 0. Vector and reference paths agree on it.
    /// </summary>
    [Theory]
    [InlineData(QuantType.NF4, 0xF0)] // codes 15, 0, then zeros → code 0
    [InlineData(QuantType.FP4, 0x3B)] // codes 3, 11, then zeros → code 0
    public void AbsmaxWhoseReciprocalOverflows(QuantType type, byte first)
    {
        var x = new float[128];
        x[0] = 1e-40f;
        x[1] = -1e-40f;
        x[64] = 1e-40f;
        x[127] = -1e-40f;
        byte[] expected = [.. BitConverter.GetBytes(1e-40f), first, .. new byte[31],
                           .. BitConverter.GetBytes(1e-40f), (byte)(first & 0xF0), .. new byte[30], (byte)(first & 0x0F)];
        Kernels.KernelEntry kernel = Kernels.KernelRegistry.TryGet(type)!;
        var fast = new byte[72];
        var reference = new byte[72];
        kernel.Quantize!(x, fast, default);
        kernel.QuantizeReference!(x, reference, default);
        Assert.Equal(expected, reference);
        Assert.Equal(expected, fast);
    }

    /// <summary>
    /// NF4 midpoints: for each pair of neighbouring values the largest float not above the exact midpoint gets the lower
    /// code (a value exactly at the midpoint goes to the lower code) and the next float up the upper code.
    /// </summary>
    [Fact]
    public void Nf4MidpointsTieToTheLowerCode()
    {
        int exactTies = 0;
        for (int k = 0; k < 15; k++)
        {
            double m = (Nf4Published[k] + Nf4Published[k + 1]) / 2; // exact in double
            float atOrBelow = (float)m;
            if (atOrBelow > m)
            {
                atOrBelow = MathF.BitDecrement(atOrBelow);
            }

            exactTies += atOrBelow == m ? 1 : 0;
            float above = MathF.BitIncrement(atOrBelow);
            Assert.Equal(k, CodeOf(QuantType.NF4, atOrBelow));
            Assert.Equal(k + 1, CodeOf(QuantType.NF4, above));
            Assert.Equal(k, CodeOf(QuantType.NF4, MathF.BitDecrement(atOrBelow)));
        }

        Assert.True(exactTies > 0, "at least one NF4 midpoint is a float, so the tie itself is exercised");
    }

    /// <summary>FP4: an exact tie goes to the lower code number (bitsandbytes' first argmin), whichever value is lower.</summary>
    [Fact]
    public void Fp4TiesGoToTheLowerCodeNumber()
    {
        // 0 (code 0) and −1/192 (code 9): the midpoint −1/384 is a float; the tie gives code 0, the higher value.
        Assert.Equal(0, CodeOf(QuantType.FP4, -1f / 384));
        Assert.Equal(9, CodeOf(QuantType.FP4, MathF.BitDecrement(-1f / 384)));
        // 0 (code 0) and +1/192 (code 1): the tie gives code 0, the lower value.
        Assert.Equal(0, CodeOf(QuantType.FP4, 1f / 384));
        Assert.Equal(1, CodeOf(QuantType.FP4, MathF.BitIncrement(1f / 384)));
        // 0.5 (code 5) and 2/3 (code 2); −1/4 (code 15) and −1/3 (code 12): midpoints that are not floats.
        double m = (0.5 + (double)(8f / 12)) / 2;
        Assert.Equal(5, CodeOf(QuantType.FP4, Below(m)));
        Assert.Equal(2, CodeOf(QuantType.FP4, Above(m)));
        m = (-0.25 + (double)(-4f / 12)) / 2;
        Assert.Equal(12, CodeOf(QuantType.FP4, Below(m)));
        Assert.Equal(15, CodeOf(QuantType.FP4, Above(m)));
    }

    private static float Below(double m) => (float)m < m ? (float)m : MathF.BitDecrement((float)m);

    private static float Above(double m) => (float)m > m ? (float)m : MathF.BitIncrement((float)m);

    /// <summary>
    /// Every float near every decision point, through the vector path (whole 64-value blocks), equals bitsandbytes' rule
    /// written out here: the first code of smallest float32 |s − value|.
    /// </summary>
    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void EveryFloatNearEveryMidpointGetsTheArgminCode(QuantType type)
    {
        float[] table = Expected(type);
        var sorted = table.Distinct().Order().ToArray();
        var s = new List<float>();
        for (int k = 0; k + 1 < sorted.Length; k++)
        {
            float m = (float)(((double)sorted[k] + sorted[k + 1]) / 2);
            for (int d = -200; d <= 200; d++)
            {
                s.Add(Step(m, d));
            }
        }

        foreach (float v in table)
        {
            s.Add(v);
            s.Add(MathF.BitIncrement(v));
            s.Add(MathF.BitDecrement(v));
        }

        // 63 test values per block after a leading 1 that fixes absmax = 1 (so s = x exactly).
        int blocks = (s.Count + 62) / 63;
        var x = new float[blocks * 64];
        for (int i = 0; i < s.Count; i++)
        {
            x[(i / 63) * 64] = 1f;
            x[(i / 63) * 64 + 1 + i % 63] = s[i];
        }

        for (int b = 0; b < blocks; b++)
        {
            x[b * 64] = 1f;
        }

        var q = new byte[blocks * 36];
        Quantizer.Quantize(type, x, q, x.Length);
        for (int i = 0; i < s.Count; i++)
        {
            int j = (i / 63) * 64 + 1 + i % 63;
            byte packed = q[(j / 64) * 36 + 4 + (j % 64) / 2];
            int code = (j & 1) == 0 ? packed >> 4 : packed & 0xF;
            Assert.True(ArgminCode(table, s[i]) == code, $"{type}: s = {s[i]:R} got code {code}, expected {ArgminCode(table, s[i])}");
        }
    }

    /// <summary>
    /// bitsandbytes scales by the float32 reciprocal (<c>A * (1 / absmax)</c>), not by a division: values whose
    /// x · (1/absmax) and x / absmax fall on different sides of a decision point get the multiplication's code.
    /// </summary>
    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void ScaleIsTheProductWithTheReciprocalNotTheQuotient(QuantType type)
    {
        float[] table = Expected(type);
        var sorted = table.Distinct().Order().ToArray();
        int found = 0;
        foreach (float a in new[] { 3f, 7f, 11f, 13f, 0.3f, 1.7f, 37f, 0.011f, 123.456f, 5e-3f })
        {
            float id = 1f / a;
            for (int k = 0; k + 1 < sorted.Length; k++)
            {
                float x0 = (float)(((double)sorted[k] + sorted[k + 1]) / 2 * a);
                for (int d = -40; d <= 40; d++)
                {
                    float x = Step(x0, d);
                    int byProduct = ArgminCode(table, Math.Clamp(x * id, -1f, 1f));
                    int byQuotient = ArgminCode(table, Math.Clamp(x / a, -1f, 1f));
                    if (byProduct == byQuotient || Math.Abs(x) > a)
                    {
                        continue;
                    }

                    found++;
                    var block = new float[64];
                    block[0] = a;
                    block[1] = x;
                    var q = new byte[36];
                    Quantizer.Quantize(type, block, q, 64);
                    Assert.Equal(byProduct, q[4] & 0xF);
                }
            }
        }

        Assert.True(found > 0, "some value must tell the two scalings apart");
    }

    /// <summary>bitsandbytes' rule on an already scaled value, as plain code: first index of the smallest distance.</summary>
    internal static int ArgminCode(float[] table, float s)
    {
        int best = 0;
        for (int c = 1; c < 16; c++)
        {
            if (MathF.Abs(s - table[c]) < MathF.Abs(s - table[best]))
            {
                best = c;
            }
        }

        return best;
    }

    private static float Step(float f, int ulps)
    {
        for (; ulps > 0; ulps--)
        {
            f = MathF.BitIncrement(f);
        }

        for (; ulps < 0; ulps++)
        {
            f = MathF.BitDecrement(f);
        }

        return f;
    }

    /// <summary>The code of s in a block whose absmax is 1 (s = x · 1 exactly); s sits in the low nibble of byte 0.</summary>
    private static int CodeOf(QuantType type, float s)
    {
        var x = new float[64];
        x[0] = 1f;
        x[1] = s;
        var q = new byte[36];
        Quantizer.Quantize(type, x, q, 64);
        return q[4] & 0xF;
    }

    /// <summary>|x − dequant(x)| ≤ (half the largest gap between neighbouring values) · absmax per block, plus rounding.</summary>
    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void RoundTripErrorIsWithinHalfTheLargestGap(QuantType type)
    {
        double[] sorted = [.. (type == QuantType.NF4 ? Nf4Published : Fp4Raw.Select(v => v / 12)).Distinct().Order()];
        double halfGap = sorted.Zip(sorted.Skip(1), (a, b) => b - a).Max() / 2; // NF4: (1 − 0.6962) / 2; FP4: (1 − 2/3) / 2
        Prop.ForAll(
            Gen.Choose(1, 8).ToArbitrary(), Gen.Choose(-20, 20).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, decade, seed) =>
            {
                int n = blocks * 64;
                float[] x = (seed % 3) switch
                {
                    0 => TestData.Gaussian(seed, n, Math.Pow(10, decade)),
                    1 => TestData.HeavyTailed(seed, n),
                    _ => TestData.Uniform(seed, n, -Math.Pow(10, decade), Math.Pow(10, decade) * 0.3),
                };
                var q = new byte[blocks * 36];
                var y = new float[n];
                Quantizer.Quantize(type, x, q, n);
                Quantizer.Dequantize(type, q, y);
                for (int b = 0; b < blocks; b++)
                {
                    double absmax = 0;
                    for (int j = 0; j < 64; j++)
                    {
                        absmax = Math.Max(absmax, Math.Abs((double)x[b * 64 + j]));
                    }

                    Assert.Equal((float)absmax, BitConverter.ToSingle(q, b * 36));
                    for (int j = 0; j < 64; j++)
                    {
                        double err = Math.Abs((double)x[b * 64 + j] - y[b * 64 + j]);
                        Assert.True(err <= (halfGap + 1e-6) * absmax, $"{type}: block {b} value {j}: |{x[b * 64 + j]} − {y[b * 64 + j]}| > {halfGap}·{absmax}");
                    }
                }
            }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void ImportanceIsIgnored(QuantType type)
    {
        float[] x = TestData.Gaussian(5, 256, 1.0);
        var a = new byte[4 * 36];
        var b = new byte[4 * 36];
        Quantizer.Quantize(type, x, a, 256);
        Quantizer.Quantize(type, x, b, 256, TestData.Importance(6, 256, withZeros: true));
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void NonFiniteInputAndBadLengthsAreRejected(QuantType type)
    {
        float[] x = TestData.Gaussian(7, 128, 1.0);
        x[70] = float.NaN;
        byte[] q = Enumerable.Repeat((byte)0xA5, 72).ToArray();
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q, 128));
        Assert.Equal("source", ex.ParamName);
        Assert.Contains("source[70]", ex.Message);
        x[70] = float.NegativeInfinity;
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q, 128));
        Assert.All(q, v => Assert.Equal(0xA5, v));
        x[70] = 0;
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q, 32)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q.AsSpan(0, 71).ToArray(), 128)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(type, new byte[35], new float[64])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(type, new byte[72], new float[127])).ParamName);
    }
}
