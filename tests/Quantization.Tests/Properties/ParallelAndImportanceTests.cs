using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Properties;

public sealed class ParallelQuantizeTests
{
    [Theory]
    [InlineData(QuantType.Q4_0, 1, 2)]
    [InlineData(QuantType.Q4_0, 7, 3)]
    [InlineData(QuantType.Q5_1, 9, 4)]
    [InlineData(QuantType.Q4_K, 5, 2)]
    [InlineData(QuantType.Q6_K, 3, -1)]
    [InlineData(QuantType.IQ4_XS, 6, 16)]
    public void ParallelBytesEqualSingleThreaded(QuantType type, int rows, int threads)
    {
        const int rowLength = 512;
        float[] x = TestData.TransformerLike((ulong)(rows * 31 + threads), rows * rowLength);
        float[] importance = TestData.Importance(5, rowLength, withZeros: false);
        foreach (float[] imp in new[] { [], importance })
        {
            var single = new byte[Quantizer.GetByteCount(type, x.Length)];
            var parallel = new byte[single.Length];
            Quantizer.Quantize(type, x, single, rowLength, imp);
            Quantizer.QuantizeParallel(type, x, parallel, rowLength, imp, threads);
            AssertBytes.Equal(single, parallel, type);
        }
    }

    [Fact]
    public void BadArgumentsAreRejectedBeforeAnyWork()
    {
        float[] x = TestData.Gaussian(1, 256, 1);
        var q = new byte[Quantizer.GetByteCount(QuantType.Q8_0, 256)];
        Assert.Equal("maxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => Quantizer.QuantizeParallel(QuantType.Q8_0, x, q, 128, default, 0)).ParamName);
        Assert.Equal("maxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => Quantizer.QuantizeParallel(QuantType.Q8_0, x, q, 128, default, -2)).ParamName);
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.QuantizeParallel(QuantType.Q8_0, x, q, 100, default, 2)).ParamName);
        x[77] = float.NaN;
        Assert.Contains("source[77]", Assert.Throws<ArgumentException>(() => Quantizer.QuantizeParallel(QuantType.Q8_0, x, q, 128, default, 2)).Message);
        Assert.True(q.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    /// <summary>Records every report; <see cref="Progress{T}"/> would post them to the thread pool out of order.</summary>
    private sealed class RecordingProgress(Action<long>? onReport = null) : IProgress<long>
    {
        public List<long> Reports { get; } = [];

        public void Report(long value)
        {
            lock (Reports)
            {
                Reports.Add(value);
            }

            onReport?.Invoke(value);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ProgressCountsEveryRowOnceAndBytesStayTheSame(int threads)
    {
        const int rows = 300, rowLength = 1024;
        float[] x = TestData.TransformerLike(9, rows * rowLength);
        var single = new byte[Quantizer.GetByteCount(QuantType.Q4_K, x.Length)];
        var parallel = new byte[single.Length];
        Quantizer.Quantize(QuantType.Q4_K, x, single, rowLength);
        var progress = new RecordingProgress();
        Quantizer.QuantizeParallel(QuantType.Q4_K, x, parallel, rowLength, default, threads, progress, TestContext.Current.CancellationToken);
        AssertBytes.Equal(single, parallel, QuantType.Q4_K);
        Assert.True(progress.Reports.Count >= 4, $"{progress.Reports.Count} reports for {rows} rows");
        Assert.Equal(rows, progress.Reports.Max());
        Assert.Equal(progress.Reports.Count, progress.Reports.Distinct().Count()); // running totals, each once
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void CancellationStopsWithinAChunk(int threads)
    {
        const int rows = 2000, rowLength = 1024;
        float[] x = TestData.Gaussian(3, rows * rowLength, 1);
        var q = new byte[Quantizer.GetByteCount(QuantType.Q4_K, x.Length)];
        using var cancel = new CancellationTokenSource();
        var progress = new RecordingProgress(done => cancel.Cancel());
        Assert.Throws<OperationCanceledException>(() => Quantizer.QuantizeParallel(QuantType.Q4_K, x, q, rowLength, default, threads, progress, cancel.Token));

        // Each worker finishes at most the chunk it was in when the first report cancelled: far from all rows.
        Assert.InRange(progress.Reports.Max(), 1, 2 * threads * 64);

        // A token cancelled before the call: no work at all.
        var untouched = new byte[q.Length];
        Assert.Throws<OperationCanceledException>(() => Quantizer.QuantizeParallel(QuantType.Q4_K, x, untouched, rowLength, default, threads, null, cancel.Token));
        Assert.True(untouched.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }
}

public sealed class ImportanceAccumulatorTests
{
    [Fact]
    public void SumsSquaresPerColumnInRowOrderAsFloat()
    {
        const int columns = 67; // not a multiple of any vector width
        float[] a = TestData.Gaussian(3, 9 * columns, 2);
        var acc = new ImportanceAccumulator(columns);
        acc.Add(a.AsSpan(0, 4 * columns));
        acc.Add(a.AsSpan(4 * columns));

        var expected = new float[columns];
        for (int r = 0; r < 9; r++)
        {
            for (int j = 0; j < columns; j++)
            {
                expected[j] += a[r * columns + j] * a[r * columns + j];
            }
        }

        Assert.Equal(9, acc.Count);
        Assert.Equal(expected, acc.SumsOfSquares.ToArray());
        float[] importance = acc.GetImportance();
        for (int j = 0; j < columns; j++)
        {
            Assert.Equal(expected[j] / 9f, importance[j]);
        }
    }

    [Fact]
    public void CalibratedImportanceDrivesTheQuantizer()
    {
        const int columns = 256;
        float[] activations = TestData.HeavyTailed(8, 32 * columns);
        var acc = new ImportanceAccumulator(columns);
        acc.Add(activations);
        float[] importance = acc.GetImportance();

        float[] weights = TestData.TransformerLike(9, 8 * columns);
        var withImportance = new byte[Quantizer.GetByteCount(QuantType.Q4_K, weights.Length)];
        var without = new byte[withImportance.Length];
        Quantizer.Quantize(QuantType.Q4_K, weights, withImportance, columns, importance);
        Quantizer.Quantize(QuantType.Q4_K, weights, without, columns);
        Assert.False(withImportance.AsSpan().SequenceEqual(without));
    }

    [Fact]
    public void BadInputIsRejectedAndResetForgets()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImportanceAccumulator(0));
        var acc = new ImportanceAccumulator(4);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => acc.Add(new float[6])).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => acc.Add([1, 2, float.PositiveInfinity, 4])).ParamName);
        Assert.Equal(0, acc.Count);
        Assert.Equal(new float[4], acc.GetImportance());
        acc.Add([1, 2, 3, 4]);
        Assert.Equal(new float[] { 1, 4, 9, 16 }, acc.GetImportance());
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => acc.GetImportance(new float[3])).ParamName);
        acc.Reset();
        Assert.Equal(0, acc.Count);
        Assert.Equal(new float[4], acc.SumsOfSquares.ToArray());
    }
}
