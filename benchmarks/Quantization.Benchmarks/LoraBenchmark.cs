using System.Diagnostics;
using System.Globalization;
using Quantization.Lora;
using Quantization.Tests.Support;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--lora</c>: what a rank-16 adapter adds to a 4096 × 4096 Q4_K matrix-vector product on one thread. The base
/// product and the adapted one are timed in alternating rounds in this process; the best round of each estimates its
/// idle-core time, as the paired runner does. Also the batched product (8 rows) for the same pair.
/// </summary>
internal static class LoraBenchmark
{
    private const int Size = 4096;

    public static int Run(int rank, int rounds)
    {
        float[] w = TestData.TransformerLike(1, Size * Size);
        var q = new byte[Quantizer.GetByteCount(QuantType.Q4_K, w.Length)];
        Quantizer.QuantizeParallel(QuantType.Q4_K, w, q, Size);
        var baseMatrix = new QuantizedMatrix(QuantType.Q4_K, q, Size, Size);
        float[] a = TestData.Gaussian(2, rank * Size, 0.02), b = TestData.Gaussian(3, Size * rank, 0.02);
        var adapter = new LoraAdapter(a, b, rank, Size, Size, LoraAdapter.GetScaling(2 * rank, rank));
        var lora = new LoraMatrix(baseMatrix, adapter);
        var adapterOnly = new LoraMatrix(new ZeroMatrix(), adapter);

        Console.WriteLine($"LoRA r = {rank} on a {Size} x {Size} Q4_K matrix, 1 thread, best of {rounds} alternating rounds");
        foreach (int batch in (int[])[1, 8])
        {
            float[] x = TestData.Gaussian(4, batch * Size, 1.0);
            var y = new float[batch * Size];
            double baseBest = double.MaxValue, loraBest = double.MaxValue, adapterBest = double.MaxValue;
            for (int round = 0; round < rounds; round++)
            {
                baseBest = Math.Min(baseBest, Time(() => baseMatrix.MatMul(x, y, batch, 1)));
                loraBest = Math.Min(loraBest, Time(() => lora.MatMul(x, y, batch, 1)));
                adapterBest = Math.Min(adapterBest, Time(() => adapterOnly.MatMul(x, y, batch, 1)));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  batch {batch}: base {baseBest * 1e6:F0} us, with adapter {loraBest * 1e6:F0} us ({(loraBest / baseBest - 1) * 100:F1} %), adapter alone {adapterBest * 1e6:F0} us ({adapterBest / baseBest * 100:F1} % of the base)"));
        }

        return 0;
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>A base that contributes nothing, to time the adapter's own work.</summary>
    private sealed class ZeroMatrix : IWeightMatrix
    {
        public int Rows => Size;

        public int Columns => Size;

        public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => y[..Size].Clear();

        public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1) => y[..(batch * Size)].Clear();
    }
}
