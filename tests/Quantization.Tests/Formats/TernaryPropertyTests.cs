using FsCheck;
using FsCheck.Fluent;
using Quantization.Kernels;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>Round-trip bounds and special blocks of the ternary formats; the per-tensor scale of I2_S across rows and threads.</summary>
public sealed class TernaryPropertyTests
{
    public static TheoryData<QuantType> Types() => [QuantType.TQ1_0, QuantType.TQ2_0, QuantType.I2_S];

    /// <summary>Ternary values ±a, 0 with a exact in FP16: all three formats give them back bit for bit.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void TernaryValuesRoundTripExactly(QuantType type)
    {
        Prop.ForAll(Gen.Choose(1, 8).ToArbitrary(), Gen.Choose(-14, 15).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(), (blocks, exponent, seed) =>
        {
            var rng = new TestRng(seed);
            float a = MathF.ScaleB(1 + (int)(rng.NextUInt64() % 1024) / 1024f, exponent); // 11 significant bits: an FP16 normal
            int n = blocks * 256;
            var x = new float[n];
            for (int i = 0; i < n; i++)
            {
                int t = (int)(rng.NextUInt64() % 3) - 1;
                x[i] = t == 0 ? 0f : t * a;
            }

            for (int b = 0; b < n; b += 256)
            {
                x[b] = -a; // every TQ block reaches amax = a
            }

            var q = new byte[Quantizer.GetByteCount(type, n)];
            var y = new float[n];
            Quantizer.Quantize(type, x, q, 256);
            Quantizer.Dequantize(type, q, y);
            AssertBytes.Equal(x, y, type);

            // Requantizing the decoded values gives the same bytes.
            var q2 = new byte[q.Length];
            Quantizer.Quantize(type, y, q2, 256);
            AssertBytes.Equal(q, q2, type);
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>On any data, TQ1_0 / TQ2_0 put each value within half a step (plus FP16 rounding of d) of its block scale grid.</summary>
    [Theory]
    [InlineData(QuantType.TQ1_0)]
    [InlineData(QuantType.TQ2_0)]
    public void RoundTripErrorIsWithinHalfAStep(QuantType type)
    {
        Prop.ForAll(Gen.Choose(1, 8).ToArbitrary(), Gen.Choose(-3, 3).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(), (blocks, decade, seed) =>
        {
            int n = blocks * 256;
            float[] x = seed % 2 == 0 ? TestData.Gaussian(seed, n, Math.Pow(10, decade)) : TestData.Uniform(seed, n, -Math.Pow(10, decade), Math.Pow(10, decade));
            var q = new byte[Quantizer.GetByteCount(type, n)];
            var y = new float[n];
            Quantizer.Quantize(type, x, q, 256);
            Quantizer.Dequantize(type, q, y);
            for (int b = 0; b < n; b += 256)
            {
                double amax = x.AsSpan(b, 256).ToArray().Max(v => Math.Abs((double)v));
                for (int i = b; i < b + 256; i++)
                {
                    // Codes −1, 0, +1 at d ≈ amax (FP16-rounded, relative error ≤ 2⁻¹¹): |x − y| ≤ amax/2 + amax·2⁻¹¹.
                    Assert.True(Math.Abs(x[i] - (double)y[i]) <= amax * (0.5 + 1.0 / 2048), $"{type}[{i}]: {x[i]} → {y[i]}, amax {amax}");
                }
            }
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>I2_S keeps signs: every value at least 10⁻⁶ in magnitude comes back as ±max|x| with its sign, the others as 0.</summary>
    [Fact]
    public void I2_SKeepsSignsAtTheTensorScale()
    {
        Prop.ForAll(Gen.Choose(1, 8).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(), (blocks, seed) =>
        {
            int n = blocks * 128;
            float[] x = TestData.Adversarial(seed, n);
            var q = new byte[Quantizer.GetByteCount(QuantType.I2_S, n)];
            var y = new float[n];
            Quantizer.Quantize(QuantType.I2_S, x, q, 128);
            Quantizer.Dequantize(QuantType.I2_S, q, y);
            float max = x.Max(MathF.Abs);
            for (int i = 0; i < n; i++)
            {
                float expected = Math.Abs((double)x[i]) < 1e-6 ? 0f : x[i] > 0 ? max : -max;
                Assert.Equal(expected, y[i]);
            }
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>The scale depends on the whole tensor: row by row, several rows, and across threads give the same bytes.</summary>
    [Theory]
    [InlineData(1, 128, 1)]
    [InlineData(7, 256, 3)]
    [InlineData(16, 384, 4)]
    [InlineData(5, 1024, -1)]
    public void I2_SRowsAndThreadsGiveTheWholeTensorsBytes(int rows, int rowLength, int threads)
    {
        float[] x = TestData.TransformerLike((ulong)(rows * rowLength), rows * rowLength);
        x[^1] = 5f; // the tensor's maximum sits in the last row
        var whole = new byte[Quantizer.GetByteCount(QuantType.I2_S, x.Length)];
        KernelRegistry.TryGet(QuantType.I2_S)!.QuantizeReference!(x, whole, default);

        var byRows = new byte[whole.Length];
        Quantizer.Quantize(QuantType.I2_S, x, byRows, rowLength);
        Assert.Equal(whole, byRows);
        Assert.Equal(5f, BitConverter.ToSingle(byRows, x.Length / 4));

        var parallel = new byte[whole.Length];
        Quantizer.QuantizeParallel(QuantType.I2_S, x, parallel, rowLength, maxDegreeOfParallelism: threads);
        Assert.Equal(whole, parallel);

        // Importance is ignored, as bitnet.cpp ignores quant_weights.
        var withImportance = new byte[whole.Length];
        Quantizer.Quantize(QuantType.I2_S, x, withImportance, rowLength, TestData.Importance(3, rowLength, withZeros: true));
        Assert.Equal(whole, withImportance);

        // The measured error is that of the whole tensor too.
        var y = new float[x.Length];
        Quantizer.Dequantize(QuantType.I2_S, whole, y);
        Assert.Equal(QuantizationError.Compute(x, y).Rmse, QuantizationError.Measure(QuantType.I2_S, x, rowLength).Rmse);
    }

    /// <summary>Blocks that take the rarely used branches: vector paths equal the references on them (on every tier).</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void SpecialBlocksVectorEqualsReference(QuantType type)
    {
        KernelEntry kernel = KernelRegistry.TryGet(type)!;
        float[][] blocks =
        [
            new float[256],                                                                              // all zeros
            [.. Enumerable.Range(0, 256).Select(i => BitConverter.Int32BitsToSingle(i % 5) * (i % 2 == 0 ? 1 : -1))], // id = +∞
            [.. Enumerable.Range(0, 256).Select(i => (i % 5 - 2) * 0.5f)],                              // ties at ±0.5
            [.. Enumerable.Range(0, 256).Select(i => i % 7 == 0 ? 1e-6f : i % 7 == 1 ? -9.9999e-7f : 3e38f)], // I2_S threshold, huge
            [.. Enumerable.Range(0, 256).Select(i => i % 2 == 0 ? -0f : 65504f)],
        ];

        foreach (float[] x in blocks)
        {
            var fast = new byte[Quantizer.GetByteCount(type, 256)];
            var reference = new byte[fast.Length];
            kernel.Quantize!(x, fast, default);
            kernel.QuantizeReference!(x, reference, default);
            AssertBytes.Equal(reference, fast, type);

            var yFast = new float[256];
            var yReference = new float[256];
            kernel.Dequantize!(fast, yFast);
            kernel.DequantizeReference!(fast, yReference);
            AssertBytes.Equal(yReference, yFast, type);
        }
    }
}
