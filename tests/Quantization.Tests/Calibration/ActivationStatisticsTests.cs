using Quantization.Calibration;

namespace Quantization.Tests.Calibration;

public sealed class ActivationStatisticsTests
{
    private static float[] RandomRows(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * columns];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() * 4 - 2);
        }

        return x;
    }

    [Fact]
    public void GramMatrixEqualsNaiveDoubleSums()
    {
        const int rows = 71, columns = 37;
        float[] x = RandomRows(rows, columns, 1);
        var statistics = new ActivationStatistics(columns);
        statistics.Add(x.AsSpan(0, 40 * columns));
        statistics.Add(x.AsSpan(40 * columns));

        // Products of floats are exact in double and both sides add rows in order, so the sums agree to the bit.
        var expected = new double[columns * columns];
        var squares = new double[columns];
        var abs = new double[columns];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < columns; i++)
            {
                double xi = x[r * columns + i];
                squares[i] += xi * xi;
                abs[i] += Math.Abs(xi);
                for (int j = 0; j < columns; j++)
                {
                    expected[i * columns + j] += xi * x[r * columns + j];
                }
            }
        }

        var gram = new double[columns * columns];
        statistics.CopyGramMatrix(gram);
        Assert.Equal(expected, gram);
        Assert.Equal(squares, statistics.GetSumOfSquares());
        Assert.Equal(abs.Select(a => a / rows), statistics.GetMeanAbsolute());
        Assert.Equal(squares.Select(s => (float)(s / rows)), statistics.GetImportance());
        Assert.Equal(rows, statistics.Count);
    }

    [Fact]
    public void MergeEqualsAddingTheUnion()
    {
        const int columns = 40;
        float[] a = RandomRows(50, columns, 2), b = RandomRows(23, columns, 3);
        var union = new ActivationStatistics(columns);
        union.Add(a);
        union.Add(b);
        var left = new ActivationStatistics(columns);
        left.Add(a);
        var right = new ActivationStatistics(columns);
        right.Add(b);
        left.Merge(right);

        Assert.Equal(union.Count, left.Count);
        var expected = new double[columns * columns];
        var actual = new double[columns * columns];
        union.CopyGramMatrix(expected);
        left.CopyGramMatrix(actual);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
        }

        Assert.Throws<ArgumentException>("other", () => left.Merge(new ActivationStatistics(columns + 1)));
    }

    [Fact]
    public void AddFromManyThreadsLosesNothing()
    {
        const int columns = 24, chunks = 16, rowsPerChunk = 9;
        float[] x = RandomRows(chunks * rowsPerChunk, columns, 4);
        var sequential = new ActivationStatistics(columns);
        sequential.Add(x);
        var parallel = new ActivationStatistics(columns);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = 4 },
                     c => parallel.Add(x.AsSpan(c * rowsPerChunk * columns, rowsPerChunk * columns)));

        Assert.Equal(sequential.Count, parallel.Count);
        double[] s = sequential.GetSumOfSquares(), p = parallel.GetSumOfSquares();
        for (int j = 0; j < columns; j++)
        {
            Assert.True(Math.Abs(s[j] - p[j]) <= 1e-12 * s[j], $"column {j}: {s[j]} vs {p[j]}");
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteActivationsAreRefusedAndNothingIsAdded(float bad)
    {
        const int columns = 8;
        var statistics = new ActivationStatistics(columns);
        statistics.Add(RandomRows(2, columns, 5));
        double[] before = statistics.GetSumOfSquares();
        float[] x = RandomRows(3, columns, 6);
        x[2 * columns + 5] = bad;

        Assert.Throws<ArgumentException>("activations", () => statistics.Add(x));
        Assert.Equal(2, statistics.Count);
        Assert.Equal(before, statistics.GetSumOfSquares());
        Assert.Throws<ArgumentException>("activations", () => statistics.Add(new float[columns + 1]));
        Assert.Throws<ArgumentOutOfRangeException>("columns", () => new ActivationStatistics(0));
    }

    [Fact]
    public void ScaledEqualsStatisticsOfScaledRows()
    {
        const int columns = 16;
        float[] x = RandomRows(10, columns, 7);
        var scales = new float[columns];
        for (int j = 0; j < columns; j++)
        {
            scales[j] = 0.25f * (j + 1);
        }

        var direct = new ActivationStatistics(columns);
        direct.Add(x.Select((v, i) => v * scales[i % columns]).ToArray());
        var original = new ActivationStatistics(columns);
        original.Add(x);
        ActivationStatistics scaled = original.Scaled(scales);

        var expected = new double[columns * columns];
        var actual = new double[columns * columns];
        direct.CopyGramMatrix(expected);
        scaled.CopyGramMatrix(actual);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
        }

        Assert.Equal(original.Count, scaled.Count);
        Assert.Throws<ArgumentException>("scales", () => original.Scaled(new float[columns - 1]));
    }
}
