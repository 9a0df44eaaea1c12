using System.Diagnostics;
using Quantization.Calibration;
using Quantization.Tests.Support;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--calibration [SIZE]</c>: wall-clock seconds of <see cref="Gptq.Quantize"/> (Q4_K, one thread and the default
/// thread count) and <see cref="Awq.SearchScales"/> (Q4_K, default options) on a SIZE × SIZE matrix (default 4096)
/// with 256 calibration rows, and of accumulating those rows into <see cref="ActivationStatistics"/>; for comparison
/// the factorisation alone, the plain imatrix quantization and GPTQ's whole-block path (RoundElements = false). One run each:
/// these calls take seconds, so timer resolution and warm-up matter little.
/// </summary>
internal static class CalibrationBenchmark
{
    private const int CalibrationRows = 256;

    public static int Run(int size)
    {
        float[] w = TestData.TransformerLike(1, size * size);
        float[] x = TestData.Gaussian(2, CalibrationRows * size, 1.0);
        var bytes = new byte[Quantizer.GetByteCount(QuantType.Q4_K, w.Length)];
        Console.WriteLine($"Calibration of a {size} x {size} matrix to Q4_K, {CalibrationRows} activation rows, {Environment.ProcessorCount} processors");

        // Warm-up on a small matrix so the kernels are compiled before timing.
        var small = new ActivationStatistics(256);
        small.Add(x.AsSpan(0, 16 * 256));
        Gptq.Quantize(QuantType.Q4_K, w.AsSpan(0, 64 * 256), new byte[Quantizer.GetByteCount(QuantType.Q4_K, 64 * 256)], 64, 256, small);

        var statistics = new ActivationStatistics(size);
        Report("ActivationStatistics.Add", () => statistics.Add(x));
        Report("  of which the factorisation, 1 thread", () => Gptq.Factor(statistics, new GptqOptions(), 1, default, keepHessian: false));
        Report("Gptq.Quantize, 1 thread", () => Gptq.Quantize(QuantType.Q4_K, w, bytes, size, size, statistics, new GptqOptions { MaxDegreeOfParallelism = 1 }));
        Report("Quantizer.Quantize with imatrix", () => Quantizer.Quantize(QuantType.Q4_K, w, bytes, size, statistics.GetImportance()));
        Report("Gptq.Quantize, 1 thread, whole blocks", () => Gptq.Quantize(QuantType.Q4_K, w, bytes, size, size, statistics, new GptqOptions { MaxDegreeOfParallelism = 1, RoundElements = false }));
        Report("Gptq.Quantize, default threads", () => Gptq.Quantize(QuantType.Q4_K, w, bytes, size, size, statistics));
        var scales = new float[size];
        Report("Awq.SearchScales, default options", () => Awq.SearchScales(QuantType.Q4_K, w, size, size, x, scales));
        return 0;
    }

    private static void Report(string what, Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        Console.WriteLine($"{what,-36} {watch.Elapsed.TotalSeconds,8:F2} s");
    }
}
