using FsCheck;
using FsCheck.Fluent;
using Quantization.Ternary;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Ternary;

public sealed class BitNetQuantizerTests
{
    // ---------------------------------------------------------------- absmean

    /// <summary>The absmean rule written out plainly (double sum in index order, float32 steps, half-to-even rounding).</summary>
    private static (sbyte[] Codes, float S) AbsMeanPlain(float[] w)
    {
        double sum = 0;
        for (int i = 0; i < w.Length; i++)
        {
            sum += Math.Abs((double)w[i]);
        }

        float mean = w.Length == 0 ? 0f : (float)(sum / w.Length);
        float s = 1f / (mean > 1e-5f ? mean : 1e-5f);
        var codes = new sbyte[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            double r = Math.Round((double)(w[i] * s), MidpointRounding.ToEven);
            codes[i] = (sbyte)(r > 1 ? 1 : r < -1 ? -1 : r);
        }

        return (codes, s);
    }

    [Fact]
    public void AbsMeanTiesRoundHalfToEven()
    {
        // mean |W| = (0.5 + 0.5 + 1.5 + 1.5 + 1 + 1) / 6 = 1, so s = 1 and W·s is W: ±0.5 → 0 (half to even), ±1.5 → ±2 → ±1.
        float[] w = [0.5f, -0.5f, 1.5f, -1.5f, 1f, -1f];
        var codes = new sbyte[6];
        float s = BitNetQuantizer.QuantizeAbsMean(w, codes);
        Assert.Equal(1f, s);
        Assert.Equal(new sbyte[] { 0, 0, 1, -1, 1, -1 }, codes);

        // Half away from zero would have given ±1 for ±0.5: the input discriminates.
        Assert.NotEqual(codes, w.Select(v => (sbyte)Math.Clamp(MathF.Round(v, MidpointRounding.AwayFromZero), -1, 1)).ToArray());

        // The same ties with s = 2 (mean 0.5).
        float[] w2 = [0.25f, 0.25f, 0.75f, 0.75f]; // mean 0.5, s = 2: 0.5, 0.5, 1.5, 1.5
        Assert.Equal(2f, BitNetQuantizer.QuantizeAbsMean(w2, codes));
        Assert.Equal(new sbyte[] { 0, 0, 1, 1 }, codes[..4]);
    }

    [Fact]
    public void AbsMeanTiesInFullVectorsAndTheirI2SBytes()
    {
        // 128 values, mean |W| = 1 (s = 1): per 64, first ±0.5 alternating, then ±1.5 alternating.
        var w = new float[128];
        for (int i = 0; i < 128; i++)
        {
            w[i] = (i % 2 == 0 ? 1 : -1) * (i % 64 < 32 ? 0.5f : 1.5f);
        }

        var codes = new sbyte[128];
        Assert.Equal(1f, BitNetQuantizer.QuantizeAbsMean(w, codes));
        for (int i = 0; i < 128; i++)
        {
            Assert.Equal(i % 64 < 32 ? 0 : i % 2 == 0 ? 1 : -1, codes[i]);
        }

        // I2_S byte j: elements j (±0.5: code 1), j+32 (±1.5: code 2 / 0), j+64 (code 1), j+96 (code 2 / 0):
        // 01 10 01 10 = 0x66 for even j, 01 00 01 00 = 0x44 for odd j; trailer 1f/s = 1.0 = 0x3F800000.
        var i2s = new byte[64];
        BitNetQuantizer.QuantizeAbsMeanToI2S(w, i2s);
        for (int j = 0; j < 32; j++)
        {
            Assert.Equal(j % 2 == 0 ? 0x66 : 0x44, i2s[j]);
        }

        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F }, i2s[32..36]);
        Assert.All(i2s[36..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void AbsMeanFloorsTheMeanAt1e5()
    {
        var codes = new sbyte[4];
        Assert.Equal(1f / 1e-5f, BitNetQuantizer.QuantizeAbsMean([0f, 0f, 0f, 0f], codes));
        Assert.Equal(new sbyte[4], codes);
        // mean 2.5e-6 < 1e-5: s = 10⁵, so 4e-6·10⁵ = 0.4 → 0 and 6e-6·10⁵ = 0.6 → 1.
        Assert.Equal(1f / 1e-5f, BitNetQuantizer.QuantizeAbsMean([4e-6f, -6e-6f, 0f, 0f], codes));
        Assert.Equal(new sbyte[] { 0, -1, 0, 0 }, codes);
        Assert.Equal(1f / 1e-5f, BitNetQuantizer.QuantizeAbsMean([], codes));
    }

    [Fact]
    public void AbsMeanEqualsThePlainRule()
    {
        Prop.ForAll(Gen.Choose(0, 3000).ToArbitrary(), Gen.Choose(-6, 3).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(), (n, decade, seed) =>
        {
            float[] w = (seed % 3) switch
            {
                0 => TestData.Gaussian(seed, n, Math.Pow(10, decade)),
                1 => TestData.TransformerLike(seed, n),
                _ => TestData.Adversarial(seed, (n + 31) / 32 * 32),
            };
            var codes = new sbyte[w.Length];
            float s = BitNetQuantizer.QuantizeAbsMean(w, codes);
            (sbyte[] expected, float expectedS) = AbsMeanPlain(w);
            Assert.Equal(expectedS, s);
            Assert.Equal(expected, codes);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void AbsMeanToI2SEqualsBitnetCppsConverterPipeline()
    {
        // bitnet.cpp's converter writes code / s as floats, and quantize_i2_s packs them: the same bytes.
        foreach (ulong seed in new ulong[] { 1, 2, 3 })
        {
            float[] w = TestData.TransformerLike(seed, 4 * 512);
            var ours = new byte[Quantizer.GetByteCount(QuantType.I2_S, w.Length)];
            float s = BitNetQuantizer.QuantizeAbsMeanToI2S(w, ours);

            var codes = new sbyte[w.Length];
            Assert.Equal(s, BitNetQuantizer.QuantizeAbsMean(w, codes));
            float[] ternary = [.. codes.Select(c => c / s)];
            var pipeline = new byte[ours.Length];
            Quantizer.Quantize(QuantType.I2_S, ternary, pipeline, 512);
            Assert.Equal(pipeline, ours);
            Assert.Equal(1f / s, BitConverter.ToSingle(ours, w.Length / 4));
        }

        // All codes zero: quantize_i2_s sees only zeros, so the scale is 0.
        var zeros = new byte[Quantizer.GetByteCount(QuantType.I2_S, 128)];
        BitNetQuantizer.QuantizeAbsMeanToI2S(new float[128], zeros);
        Assert.All(zeros[..32], b => Assert.Equal(0x55, b));
        Assert.All(zeros[32..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void AbsMeanRejectsBadInput()
    {
        Assert.Equal("codes", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeAbsMean([1f, 2f], new sbyte[1])).ParamName);
        Assert.Contains("weights[1]", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeAbsMean([1f, float.NaN], new sbyte[2])).Message);
        var q = new byte[64];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeAbsMeanToI2S(new float[100], q)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeAbsMeanToI2S(new float[128], q.AsSpan(1))).ParamName);
        Assert.All(q, b => Assert.Equal(0, b));
    }

    // ---------------------------------------------------------------- per-token int8 activations

    /// <summary>quantize_row_i8_s written out plainly: double max with floor 1e-5, s = (float)(127/max), half-to-even.</summary>
    internal static (sbyte[] Codes, float S, int Sum) ActivationsPlain(ReadOnlySpan<float> x)
    {
        double max = 1e-5;
        foreach (float v in x)
        {
            max = Math.Max(max, Math.Abs((double)v));
        }

        float s = (float)(127 / max);
        var q = new sbyte[x.Length];
        int sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float p = x[i] * s;
            int v = (int)Math.Clamp(MathF.Round(p, MidpointRounding.ToEven), -128, 127);
            q[i] = (sbyte)v;
            sum += v;
        }

        return (q, s, sum);
    }

    [Fact]
    public void ActivationTiesRoundHalfToEvenAndSumsAreReturned()
    {
        // Row 0: max 127 so s = 1: x·s = x, ties 0.5 → 0, −0.5 → 0, 1.5 → 2, 2.5 → 2, −2.5 → −2.
        // Row 1: every |x| below the 1e-5 floor: s = (float)(127 / 1e-5) = 12700000, 1e-7·s = 1.27 → 1.
        float[] x = [0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 127f, -127f, 3.4f,
                     1e-7f, -1e-7f, 0f, 5e-8f, 0f, 0f, 0f, 0f];
        var codes = new sbyte[16];
        var scales = new float[2];
        var sums = new int[2];
        BitNetQuantizer.QuantizeActivations(x, 8, codes, scales, sums);

        Assert.Equal(new sbyte[] { 0, 0, 2, 2, -2, 127, -127, 3 }, codes[..8]);
        Assert.Equal(1f, scales[0]);
        Assert.Equal(0 + 0 + 2 + 2 - 2 + 127 - 127 + 3, sums[0]);
        Assert.Equal(12700000f, scales[1]);
        Assert.Equal(new sbyte[] { 1, -1, 0, 1, 0, 0, 0, 0 }, codes[8..]); // 5e-8·s = 0.635 → 1
        Assert.Equal(1, sums[1]);

        // Half away from zero (the roundf variant some ports use) would differ on row 0.
        Assert.NotEqual(codes[..8], x[..8].Select(v => (sbyte)MathF.Round(v, MidpointRounding.AwayFromZero)).ToArray());
    }

    [Fact]
    public void ActivationTiesInFullVectorsRoundHalfToEven()
    {
        // 96 values (three 32-value vector steps): 127 sets s = 1, the others are k + 0.5 for k = −60..34, whose nearest
        // even neighbour is k when k is even and k + 1 when k is odd.
        var x = new float[96];
        var expected = new sbyte[96];
        x[0] = 127;
        expected[0] = 127;
        for (int i = 1; i < 96; i++)
        {
            int k = i - 61;
            x[i] = k + 0.5f;
            expected[i] = (sbyte)(k % 2 == 0 ? k : k + 1);
        }

        var codes = new sbyte[96];
        var scales = new float[1];
        var sums = new int[1];
        BitNetQuantizer.QuantizeActivations(x, 96, codes, scales, sums);
        Assert.Equal(1f, scales[0]);
        Assert.Equal(expected, codes);
        Assert.Equal(expected.Sum(c => c), sums[0]);
    }

    [Fact]
    public void ActivationsEqualThePlainRule()
    {
        Prop.ForAll(Gen.Choose(1, 300).ToArbitrary(), Gen.Choose(1, 5).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(), (rowLength, rows, seed) =>
        {
            float[] x = (seed % 3) switch
            {
                0 => TestData.Gaussian(seed, rows * rowLength, 3),
                1 => TestData.HeavyTailed(seed, rows * rowLength),
                _ => TestData.Adversarial(seed, (rows * rowLength + 31) / 32 * 32)[..(rows * rowLength)],
            };
            var codes = new sbyte[x.Length];
            var scales = new float[rows];
            var sums = new int[rows];
            BitNetQuantizer.QuantizeActivations(x, rowLength, codes, scales, sums);
            for (int r = 0; r < rows; r++)
            {
                (sbyte[] q, float s, int sum) = ActivationsPlain(x.AsSpan(r * rowLength, rowLength));
                Assert.Equal(q, codes[(r * rowLength)..((r + 1) * rowLength)]);
                Assert.Equal(s, scales[r]);
                Assert.Equal(sum, sums[r]);
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void ActivationsRejectBadInput()
    {
        float[] x = TestData.Gaussian(1, 64, 1);
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 0, new sbyte[64], new float[1], new int[1])).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 48, new sbyte[64], new float[2], new int[2])).ParamName);
        Assert.Equal("codes", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 32, new sbyte[63], new float[2], new int[2])).ParamName);
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 32, new sbyte[64], new float[1], new int[2])).ParamName);
        Assert.Equal("sums", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 32, new sbyte[64], new float[2], new int[1])).ParamName);
        x[40] = float.PositiveInfinity;
        var codes = new sbyte[64];
        Assert.Contains("activations[40]", Assert.Throws<ArgumentException>(() => BitNetQuantizer.QuantizeActivations(x, 32, codes, new float[2], new int[2])).Message);
        Assert.All(codes, c => Assert.Equal(0, c));
    }
}
