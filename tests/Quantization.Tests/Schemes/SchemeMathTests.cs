using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Schemes;

/// <summary>The scheme products against a double-precision product with the dequantized matrix, every vector width against the scalar one.</summary>
public sealed class SchemeMathTests
{
    public static TheoryData<int> CaseIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < SchemeTests.Cases.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    /// <summary>Σ W·x in double over the dequantized weights, and Σ |W|·|x| for the tolerance.</summary>
    private static (double[] Value, double[] Magnitude) Expected(float[] w, float[] x, int rows, int columns, int batch)
    {
        var value = new double[batch * rows];
        var magnitude = new double[batch * rows];
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    value[b * rows + r] += (double)w[r * columns + c] * x[b * columns + c];
                    magnitude[b * rows + r] += Math.Abs((double)w[r * columns + c] * x[b * columns + c]);
                }
            }
        }

        return (value, magnitude);
    }

    private static (byte[] Tensor, float[] Dequantized) Make(int caseIndex, ulong seed)
    {
        (QuantScheme scheme, int rows, int columns) = SchemeTests.Cases[caseIndex];
        float[] w = TestData.Gaussian(seed, rows * columns, 1.0);
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
        SchemeQuantizer.Quantize(scheme, w, rows, columns, tensor);
        var dequantized = new float[w.Length];
        SchemeQuantizer.Dequantize(scheme, tensor, rows, columns, dequantized);
        return (tensor, dequantized);
    }

    [Theory]
    [MemberData(nameof(CaseIndexes))]
    public void EveryWidthAgreesWithTheDequantizedProduct(int caseIndex)
    {
        (QuantScheme scheme, int rows, int columns) = SchemeTests.Cases[caseIndex];
        (byte[] tensor, float[] w) = Make(caseIndex, (ulong)caseIndex + 1);
        const int batch = 3;
        float[] x = TestData.Gaussian(77, batch * columns, 1.0);
        (double[] expected, double[] magnitude) = Expected(w, x, rows, columns, batch);
        SchemeLayout layout = SchemeLayout.Create(scheme, rows, columns);
        foreach (SchemeDotWidth width in Enum.GetValues<SchemeDotWidth>())
        {
            if (!SchemeDot.IsSupported(width))
            {
                continue;
            }

            var y = new float[batch * rows];
            SchemeDot.Run(layout, width, tensor, x, y, batch, 1, new float[batch * columns]);
            for (int i = 0; i < y.Length; i++)
            {
                Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 * magnitude[i] + 1e-30,
                            $"{scheme} {width} [{i}]: expected {expected[i]}, got {y[i]} (Σ|w·x| {magnitude[i]})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(CaseIndexes))]
    public void MatMulIsMatVecPerActivationRowAndTheMatrixGivesTheSameResults(int caseIndex)
    {
        (QuantScheme scheme, int rows, int columns) = SchemeTests.Cases[caseIndex];
        (byte[] tensor, _) = Make(caseIndex, (ulong)caseIndex + 50);
        const int batch = 4;
        float[] x = TestData.Gaussian(78, batch * columns, 1.0);
        var y = new float[batch * rows];
        SchemeMath.MatMul(scheme, tensor, rows, columns, x, y, batch, maxDegreeOfParallelism: 2);
        var matrix = new SchemeMatrix(scheme, tensor, rows, columns);
        for (int b = 0; b < batch; b++)
        {
            var single = new float[rows];
            SchemeMath.MatVec(scheme, tensor, rows, columns, x.AsSpan(b * columns, columns), single);
            Assert.Equal(single, y.AsSpan(b * rows, rows).ToArray());
            var fromMatrix = new float[rows];
            matrix.MatVecAccurate(x.AsSpan(b * columns, columns), fromMatrix);
            Assert.Equal(single, fromMatrix);
            if (!matrix.HasIntegerDot)
            {
                matrix.MatVec(x.AsSpan(b * columns, columns), fromMatrix);
                Assert.Equal(single, fromMatrix);
            }
        }

        var batched = new float[batch * rows];
        matrix.MatMulAccurate(x, batched, batch, maxDegreeOfParallelism: -1);
        Assert.Equal(y, batched);
    }

    /// <summary>
    /// The matrix's fast product: 4- and 8-bit integer schemes with groups of whole chunks of 32 on AVX2 quantize the activations
    /// to 8 bits per 32 and must equal W · (d · q) up to float summation; every other case is the accurate product. MatMul
    /// is MatVec per activation row, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseIndexes))]
    public void TheMatrixFastProductQuantizesActivationsWhereItHasAnIntegerDot(int caseIndex)
    {
        (QuantScheme scheme, int rows, int columns) = SchemeTests.Cases[caseIndex];
        (byte[] tensor, _) = Make(caseIndex, (ulong)caseIndex + 90);
        AssertFastProduct(scheme, rows, columns, tensor);
    }

    /// <summary>More shapes of the integer products: every scale type with eight groups or more, zero points at 8 bits, rows and tensors.</summary>
    [Theory]
    [InlineData(4, 32, false, SchemeScaleType.BF16)]
    [InlineData(4, 64, false, SchemeScaleType.F32)]
    [InlineData(4, 32, true, SchemeScaleType.F16)]
    [InlineData(8, 32, false, SchemeScaleType.F32)]
    [InlineData(8, 64, false, SchemeScaleType.BF16)]
    [InlineData(4, 0, false, SchemeScaleType.F32)]
    [InlineData(8, -1, true, SchemeScaleType.F32)]
    public void IntegerProductsOfMoreShapes(int bits, int group, bool symmetric, SchemeScaleType scaleType)
    {
        const int rows = 9, columns = 640;
        QuantScheme scheme = group switch
        {
            0 => QuantScheme.Integer(bits, SchemeGranularity.Row, 0, symmetric, scaleType),
            -1 => QuantScheme.Integer(bits, SchemeGranularity.Tensor, 0, symmetric, scaleType),
            _ => QuantScheme.Group(bits, group, symmetric, scaleType),
        };
        float[] w = TestData.Gaussian((ulong)(bits * 100 + group + 7), rows * columns, 1.0);
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
        SchemeQuantizer.Quantize(scheme, w, rows, columns, tensor);
        AssertFastProduct(scheme, rows, columns, tensor);
    }

    private static void AssertFastProduct(QuantScheme scheme, int rows, int columns, byte[] tensor)
    {
        var matrix = new SchemeMatrix(scheme, tensor, rows, columns);
        int groupLength = scheme.Granularity is SchemeGranularity.Group or SchemeGranularity.Block2D ? scheme.GroupSize : columns;
        bool expected = System.Runtime.Intrinsics.X86.Avx2.IsSupported && scheme.Element == SchemeElement.Integer && scheme.Bits is 4 or 8
                        && groupLength % 32 == 0 && columns % groupLength == 0;
        Assert.Equal(expected, matrix.HasIntegerDot);

        const int batch = 3;
        float[] x = TestData.Gaussian(91, batch * columns, 1.0);
        var y = new float[batch * rows];
        matrix.MatMul(x, y, batch, maxDegreeOfParallelism: 2);
        var w = new float[rows * columns];
        SchemeQuantizer.Dequantize(scheme, tensor, rows, columns, w);
        if (expected)
        {
            Checkpoints.GroupIntReference.AssertEightBitProduct(w, rows, columns, x, y, batch, columnOrder: null);
        }
        else
        {
            var accurate = new float[batch * rows];
            matrix.MatMulAccurate(x, accurate, batch);
            Assert.Equal(accurate, y);
        }

        for (int b = 0; b < batch; b++)
        {
            var single = new float[rows];
            matrix.MatVec(x.AsSpan(b * columns, columns), single, maxDegreeOfParallelism: 1);
            Assert.Equal(y.AsSpan(b * rows, rows).ToArray(), single);
        }
    }

    [Fact]
    public void AMatVecCallAllocatesNothing()
    {
        foreach (QuantScheme scheme in new[] { QuantScheme.Int8PerChannel, QuantScheme.Group(4, 32, symmetric: false), QuantScheme.Group(3, 64),
                                              QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128) })
        {
            const int rows = 64, columns = 512;
            float[] w = TestData.Gaussian(3, rows * columns, 1.0);
            var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
            SchemeQuantizer.Quantize(scheme, w, rows, columns, tensor);
            var matrix = new SchemeMatrix(scheme, tensor, rows, columns);
            float[] x = TestData.Gaussian(4, columns, 1.0);
            var y = new float[rows];
            long least = long.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                // The least of a few rounds: pooled scratch is shared with tests on other threads.
                matrix.MatVec(x, y, 1);
                SchemeMath.MatVec(scheme, tensor, rows, columns, x, y, 1);
                long before = GC.GetAllocatedBytesForCurrentThread();
                matrix.MatVec(x, y, 1);
                SchemeMath.MatVec(scheme, tensor, rows, columns, x, y, 1);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            Assert.True(least == 0, $"{scheme}: {least} bytes allocated");
        }
    }

    [Fact]
    public void BadShapesNameTheirParameter()
    {
        var scheme = QuantScheme.Group(4, 32);
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 4, 64)];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => SchemeMath.MatVec(scheme, tensor.AsSpan(1), 4, 64, new float[64], new float[4])).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => SchemeMath.MatVec(scheme, tensor, 4, 64, new float[63], new float[4])).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => SchemeMath.MatVec(scheme, tensor, 4, 64, new float[64], new float[3])).ParamName);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => SchemeMath.MatMul(scheme, tensor, 4, 64, new float[64], new float[4], -1)).ParamName);
        Assert.Equal("maxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => SchemeMath.MatVec(scheme, tensor, 4, 64, new float[64], new float[4], 0)).ParamName);
        Assert.Equal("scheme", Assert.Throws<ArgumentException>(() => SchemeMath.MatVec(default, tensor, 4, 64, new float[64], new float[4])).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => new SchemeMatrix(scheme, tensor.AsMemory(2), 4, 64)).ParamName);
    }
}
