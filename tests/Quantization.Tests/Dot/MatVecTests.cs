using Quantization.Kernels;
using Quantization.Kernels.Dot;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// <see cref="QuantizedMath"/> and <see cref="QuantizedMatrix"/> against straightforward references: the integer path
/// against the scalar reference dot per (row, activation row), the float path against dequantize-then-dot in double.
/// </summary>
public sealed class MatVecTests
{
    /// <summary>Every type the library can dequantize.</summary>
    public static TheoryData<QuantType> MultipliableTypes()
    {
        var data = new TheoryData<QuantType>();
        foreach (KernelEntry e in KernelRegistry.All)
        {
            QuantFormat f = QuantFormat.Get(e.Type);
            if (e.CanDequantize && e.CanQuantize && Quantizer.GetByteCount(e.Type, f.BlockSize) == f.BytesPerBlock) // no per-tensor trailer
            {
                data.Add(e.Type);
            }
        }

        return data;
    }

    private static int[] ColumnCounts(QuantFormat f) => f.BlockSize == 1 ? [1, 7, 256] : [f.BlockSize, 3 * f.BlockSize];

    [Theory]
    [MemberData(nameof(MultipliableTypes))]
    public void MatMulMatchesTheReferenceOnOddShapes(QuantType type)
    {
        QuantFormat f = QuantFormat.Get(type);
        DotEntry? dot = DotRegistry.TryGet(type);
        foreach (int columns in ColumnCounts(f))
        {
            foreach (int rows in new[] { 1, 5, 13 })
            {
                float[] wf = TestData.TransformerLike((ulong)(rows * 7 + columns), rows * columns);
                byte[] w = DotTestSupport.Quantize(type, wf, columns);
                float[] wd = DotTestSupport.Dequantize(type, w);
                int rowBytes = w.Length / rows;
                foreach (int batch in new[] { 1, 2, 4, 5, 9 })
                {
                    float[] x = TestData.Gaussian((ulong)(batch * 31 + rows), batch * columns, 1);
                    foreach (int threads in new[] { 1, 3 })
                    {
                        var y = new float[batch * rows + 1];
                        y[^1] = 42; // beyond the result: untouched
                        QuantizedMath.MatMul(type, w, rows, columns, x, y, batch, threads);
                        var yf = new float[batch * rows];
                        QuantizedMath.MatMulAccurate(type, w, rows, columns, x, yf, batch, threads);
                        Assert.Equal(42, y[^1]);
                        for (int b = 0; b < batch; b++)
                        {
                            float[] xb = x.AsSpan(b * columns, columns).ToArray();
                            byte[] a = dot is null ? [] : Activations(dot, xb);
                            float[] ad = dot is null ? [] : DotTestSupport.Dequantize(dot.ActivationType, a);
                            for (int r = 0; r < rows; r++)
                            {
                                double exact = 0, abs = 0;
                                for (int c = 0; c < columns; c++)
                                {
                                    exact += (double)wd[r * columns + c] * xb[c];
                                    abs += Math.Abs((double)wd[r * columns + c] * xb[c]);
                                }

                                // Float path: dequantized weights × float x, float summation over `columns` terms.
                                Assert.True(Math.Abs(yf[b * rows + r] - exact) <= (columns + 2) * Math.Pow(2, -23) * abs + 1e-30,
                                            $"{type} float path {rows}x{columns} batch {b}/{batch} row {r}: {yf[b * rows + r]} vs {exact}");
                                if (dot is null)
                                {
                                    Assert.Equal(yf[b * rows + r], y[b * rows + r]); // no integer kernel: the float path
                                    continue;
                                }

                                float reference = dot.DotReference(w.AsSpan(r * rowBytes, rowBytes), a, columns);
                                double bound = SummationBound(type, w.AsSpan(r * rowBytes, rowBytes), wd, r * columns, a,
                                                              ad, columns);
                                if (For(type) is null)
                                {
                                    // Super-block formats with mins (K-quants): |d·sc·q| and |dmin·m| each stay within
                                    // about 3·max|w| of the row, so their terms add up to at most 3·max|w|·Σ|a|.
                                    double maxW = 0, sumA = 0;
                                    for (int c = 0; c < columns; c++)
                                    {
                                        maxW = Math.Max(maxW, Math.Abs(wd[r * columns + c]));
                                        sumA += Math.Abs(ad[c]);
                                    }

                                    bound += (columns / 32 * 9 + 2) * Math.Pow(2, -23) * 3 * maxW * sumA;
                                }

                                Assert.True(Math.Abs(y[b * rows + r] - (double)reference) <= bound,
                                            $"{type} {rows}x{columns} batch {b}/{batch} row {r} threads {threads}: {y[b * rows + r]} vs {reference}");
                            }
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q5_1)]
    [InlineData(QuantType.IQ4_NL)]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    [InlineData(QuantType.F16)]
    [InlineData(QuantType.I2_S)]
    public void ThreadsBatchesAndTheMatrixTypeGiveTheSameBits(QuantType type)
    {
        QuantFormat f = QuantFormat.Get(type);
        int columns = f.BlockSize == 1 ? 96 : 2 * Math.Max(f.BlockSize, 256);
        foreach (int rows in new[] { 1, 6, 11, 21 })
        {
            byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)rows, rows * columns), columns);
            const int batch = 7;
            float[] x = TestData.Gaussian(99, batch * columns, 1);
            var expected = new float[batch * rows];
            for (int b = 0; b < batch; b++)
            {
                QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan(b * columns, columns), expected.AsSpan(b * rows, rows));
            }

            var matrix = new QuantizedMatrix(type, w, rows, columns);
            foreach (int threads in new[] { 1, 2, 3, 4, -1 })
            {
                var y = new float[batch * rows];
                QuantizedMath.MatMul(type, w, rows, columns, x, y, batch, threads);
                AssertBits(expected, y, $"{type} MatMul rows {rows} threads {threads}");
                Array.Clear(y);
                matrix.MatMul(x, y, batch, threads);
                AssertBits(expected, y, $"{type} QuantizedMatrix.MatMul rows {rows} threads {threads}");
                var one = new float[rows];
                matrix.MatVec(x.AsSpan(2 * columns, columns), one, threads);
                AssertBits(expected.AsSpan(2 * rows, rows).ToArray(), one, $"{type} QuantizedMatrix.MatVec rows {rows}");
            }

            var accurate = new float[batch * rows];
            var accurateMatrix = new float[batch * rows];
            QuantizedMath.MatMulAccurate(type, w, rows, columns, x, accurate, batch, 2);
            matrix.MatMulAccurate(x, accurateMatrix, batch);
            AssertBits(accurate, accurateMatrix, $"{type} accurate");
        }
    }

    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.I2_S)]
    public void ConcurrentCallsOnSharedWeightsGiveTheSequentialResults(QuantType type)
    {
        const int rows = 37, columns = 512;
        byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike(5, rows * columns), columns);
        var matrix = new QuantizedMatrix(type, w, rows, columns);
        float[][] xs = Enumerable.Range(0, 16).Select(i => TestData.Gaussian((ulong)i, columns, 1)).ToArray();
        float[][] expected = xs.Select(x =>
        {
            var y = new float[rows];
            QuantizedMath.MatVec(type, w, rows, columns, x, y);
            return y;
        }).ToArray();

        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var y = new float[rows];
            if (i % 2 == 0)
            {
                matrix.MatVec(xs[i % 16], y, i % 3 + 1);
            }
            else
            {
                QuantizedMath.MatVec(type, w, rows, columns, xs[i % 16], y, i % 3 + 1);
            }

            AssertBits(expected[i % 16], y, $"call {i}");
        });
    }

    [Fact]
    public void WrongShapesAreArgumentExceptionsAndNothingIsWritten()
    {
        const int rows = 3, columns = 64;
        byte[] w = DotTestSupport.Quantize(QuantType.Q4_0, TestData.Gaussian(1, rows * columns, 1), columns);
        float[] x = TestData.Gaussian(2, 2 * columns, 1);
        var y = new float[2 * rows];
        Array.Fill(y, 7f);

        void Check(string param, Action call) => Assert.Equal(param, Assert.ThrowsAny<ArgumentException>(call).ParamName);
        Check("columns", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, 48, x.AsSpan(0, 48), y));
        Check("columns", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, 0, default, y));
        Check("weights", () => QuantizedMath.MatVec(QuantType.Q4_0, w.AsSpan(1), rows, columns, x.AsSpan(0, columns), y));
        Check("weights", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows - 1, columns, x.AsSpan(0, columns), y));
        Check("x", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, columns, x, y));
        Check("x", () => QuantizedMath.MatMul(QuantType.Q4_0, w, rows, columns, x.AsSpan(1), y, 2));
        Check("y", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, columns, x.AsSpan(0, columns), y.AsSpan(0, rows - 1)));
        Check("y", () => QuantizedMath.MatMul(QuantType.Q4_0, w, rows, columns, x, y.AsSpan(1), 2));
        Check("y", () => QuantizedMath.MatMulAccurate(QuantType.Q4_0, w, rows, columns, x, y.AsSpan(1), 2));
        Check("rows", () => QuantizedMath.MatVec(QuantType.Q4_0, w, -1, columns, x.AsSpan(0, columns), y));
        Check("batch", () => QuantizedMath.MatMul(QuantType.Q4_0, w, rows, columns, x, y, -1));
        Check("maxDegreeOfParallelism", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, columns, x.AsSpan(0, columns), y, 0));
        Check("maxDegreeOfParallelism", () => QuantizedMath.MatVec(QuantType.Q4_0, w, rows, columns, x.AsSpan(0, columns), y, -2));
        Check("weights", () => new QuantizedMatrix(QuantType.Q4_0, w.AsMemory(1), rows, columns));
        Check("columns", () => new QuantizedMatrix(QuantType.Q4_0, w, rows, 33));
        var matrix = new QuantizedMatrix(QuantType.Q4_0, w, rows, columns);
        Check("x", () => matrix.MatVec(x, y));
        Check("y", () => matrix.MatMul(x, y.AsSpan(0, 5), 2));
        Check("type", () => QuantizedMath.MatVec((QuantType)999, w, rows, columns, x.AsSpan(0, columns), y));
        Assert.Throws<NotSupportedException>(() => QuantizedMath.MatVec(QuantType.I32, new byte[1024], 1, 256, new float[256], y));
        Assert.All(y, v => Assert.Equal(7f, v));
    }

    [Fact]
    public void EmptyShapesWriteNothing()
    {
        var y = new float[] { 5 };
        QuantizedMath.MatVec(QuantType.Q8_0, default, 0, 32, new float[32], y);
        QuantizedMath.MatMul(QuantType.Q8_0, new byte[34], 1, 32, default, y, 0);
        Assert.Equal(5, y[0]);
    }

    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q5_1)]
    [InlineData(QuantType.Q6_K)]
    [InlineData(QuantType.I2_S)]
    public void SingleThreadedCallsAllocateNothing(QuantType type)
    {
        const int rows = 64, columns = 1024;
        byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike(3, rows * columns), columns);
        float[] x = TestData.Gaussian(4, 3 * columns, 1);
        var y = new float[3 * rows];
        var matrix = new QuantizedMatrix(type, w, rows, columns);
        for (int warm = 0; warm < 3; warm++)
        {
            QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan(0, columns), y, 1);
            QuantizedMath.MatMul(type, w, rows, columns, x, y, 3, 1);
            matrix.MatVec(x.AsSpan(0, columns), y, 1);
            matrix.MatMulAccurate(x, y, 3, 1);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan(0, columns), y, 1);
        QuantizedMath.MatMul(type, w, rows, columns, x, y, 3, 1);
        QuantizedMath.MatVecAccurate(type, w, rows, columns, x.AsSpan(0, columns), y, 1);
        matrix.MatVec(x.AsSpan(0, columns), y, 1);
        matrix.MatMulAccurate(x, y, 3, 1);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
