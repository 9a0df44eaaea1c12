using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Quantization.Benchmarks;

/// <summary>
/// A cross-check of BenchmarkDotNet's ratios for a shared, loaded machine (<c>--paired</c>): the same benchmark classes
/// (same data, same setup and sanity checks), but ggml and ours are timed in alternating short batches (about 2 ms, at
/// least one call) in one process, up to 101 rounds or about 4 s per pair. Other processes only ever add time, so each
/// side's <b>best</b> round estimates its speed on an idle core, and the speed-up is the ratio of the two best times;
/// the median of the per-round ratios is printed beside it as a consistency check.
/// Each tier runs in a child process of its own (DOTNET_EnableAVX512=0 for the AVX2 tier), as BenchmarkDotNet does.
/// </summary>
internal static class PairedRunner
{
    public const string ChildFlag = "--paired-child";
    private const int MaxRounds = 101;
    private const int MinRounds = 15;
    private const double BatchSeconds = 0.002;
    private const double PairSeconds = 4.0;

    private sealed record Pair(string Class, QuantType Type, string Baseline, Action Setup, Action Cleanup, Action RunBaseline, Action RunOurs,
                               long Values = BenchmarkData.Values);

    /// <summary>Runs every pair for each requested tier in a child process and gathers the measurements.</summary>
    public static Measurements Run(IEnumerable<string> jobIds, string? filter)
    {
        var all = new Measurements();
        foreach (string job in jobIds)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(ChildFlag);
            psi.ArgumentList.Add(job);
            if (filter is not null)
            {
                psi.ArgumentList.Add(filter);
            }

            if (job == Program.Avx2JobId)
            {
                psi.Environment["DOTNET_EnableAVX512"] = "0";
            }

            using Process child = Process.Start(psi)!;
            string? line;
            while ((line = child.StandardOutput.ReadLine()) is not null)
            {
                string[] f = line.Split('\t');
                if (f.Length == 6 && f[0] is "T" or "S")
                {
                    var key = new MeasurementKey(f[1], f[2], Enum.Parse<QuantType>(f[3]), f[4]);
                    double v = double.Parse(f[5], CultureInfo.InvariantCulture);
                    if (f[0] == "T")
                    {
                        all.NsPerValue.TryAdd(key, v);
                    }
                    else
                    {
                        all.MeasuredSpeedup[key] = v;
                    }
                }
                else
                {
                    Console.WriteLine(line);
                }
            }

            child.WaitForExit();
            if (child.ExitCode != 0)
            {
                throw new InvalidOperationException($"paired run of {job} failed with exit code {child.ExitCode}");
            }
        }

        return all;
    }

    /// <summary>The child: measures every pair in this process and writes tab-separated results to stdout.</summary>
    public static int RunChild(string job, string? filter)
    {
        foreach (Pair p in Pairs())
        {
            if (filter is not null && !$"{p.Class}.{p.Type}".Contains(filter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            p.Setup();
            try
            {
                (double baseNs, double oursNs, double speedup, double medianRatio, int rounds) = Measure(p.RunBaseline, p.RunOurs, p.Values);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"T\t{p.Class}\t{p.Baseline}\t{p.Type}\t{job}\t{baseNs:R}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"T\t{p.Class}\tOurs\t{p.Type}\t{job}\t{oursNs:R}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"S\t{p.Class}\t{p.Baseline}\t{p.Type}\t{job}\t{speedup:R}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"// {job,-11} {p.Class,-34} {p.Type,-5} {p.Baseline,-8} {1000 / baseNs,9:N1} M/s  ours {1000 / oursNs,9:N1} M/s  speed-up {speedup:0.00}x (median of {rounds} round ratios {medianRatio:0.00}x)"));
            }
            finally
            {
                p.Cleanup();
            }
        }

        return 0;
    }

    private static IEnumerable<Pair> Pairs()
    {
        foreach (QuantType t in ParamValues<QuantizeBenchmarks>())
        {
            var b = new QuantizeBenchmarks { Type = t };
            yield return new Pair(nameof(QuantizeBenchmarks), t, "Ggml", b.Setup, b.Cleanup, () => b.Ggml(), b.Ours);
        }

        foreach (QuantType t in ParamValues<QuantizeWithImportanceBenchmarks>())
        {
            var b = new QuantizeWithImportanceBenchmarks { Type = t };
            yield return new Pair(nameof(QuantizeWithImportanceBenchmarks), t, "Ggml", b.Setup, b.Cleanup, () => b.Ggml(), b.Ours);
        }

        foreach (QuantType t in ParamValues<DequantizeBenchmarks>())
        {
            var b = new DequantizeBenchmarks { Type = t };
            yield return new Pair(nameof(DequantizeBenchmarks), t, "Ggml", b.Setup, b.Cleanup, b.Ggml, b.Ours);
        }

        foreach (QuantType t in ParamValues<ActivationQuantizeBenchmarks>())
        {
            var b = new ActivationQuantizeBenchmarks { Type = t };
            yield return new Pair(nameof(ActivationQuantizeBenchmarks), t, "GgmlRef", b.Setup, b.Cleanup, b.GgmlRef, b.Ours);
            var c = new ActivationQuantizeBenchmarks { Type = t };
            yield return new Pair(nameof(ActivationQuantizeBenchmarks), t, "GgmlCpu", c.Setup, c.Cleanup, c.GgmlCpu, c.Ours);
        }

        foreach (QuantType t in ParamValues<MatVec4096x4096Benchmarks>())
        {
            var b = new MatVec4096x4096Benchmarks { Type = t };
            yield return new Pair(nameof(MatVec4096x4096Benchmarks), t, "Ggml", b.Setup, b.Cleanup, b.Ggml, b.Ours, 4096L * MatVecBenchmarks.MatrixColumns);
            var c = new MatVec16384x4096Benchmarks { Type = t };
            yield return new Pair(nameof(MatVec16384x4096Benchmarks), t, "Ggml", c.Setup, c.Cleanup, c.Ggml, c.Ours, 16384L * MatVecBenchmarks.MatrixColumns);
        }
    }

    /// <summary>The [Params] values of a class's Type property: the same cases BenchmarkDotNet runs.</summary>
    private static IEnumerable<QuantType> ParamValues<T>() =>
        typeof(T).GetProperty("Type")!.GetCustomAttribute<ParamsAttribute>()!.Values.Cast<QuantType>();

    private static (double BaseNs, double OursNs, double Speedup, double MedianRatio, int Rounds) Measure(Action baseline, Action ours, long values)
    {
        // Warm-up: enough calls for tiered compilation to reach optimized code (and for caches), ~0.5 s.
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (warm < 60 || sw.Elapsed.TotalSeconds < 0.5)
        {
            baseline();
            ours();
            warm++;
            if (warm >= 3 && sw.Elapsed.TotalSeconds > 3)
            {
                break; // slow cases (importance search): tier-up happens on the loop above anyway
            }
        }

        double one = Math.Min(Time(baseline, 1), Time(ours, 1));
        int k = Math.Max(1, (int)(BatchSeconds / one));
        var ratios = new List<double>(MaxRounds);
        double bestBase = double.MaxValue, bestOurs = double.MaxValue;
        sw.Restart();
        for (int r = 0; r < MaxRounds && (r < MinRounds || sw.Elapsed.TotalSeconds < PairSeconds); r++)
        {
            double tb, to;
            if ((r & 1) == 0)
            {
                tb = Time(baseline, k);
                to = Time(ours, k);
            }
            else
            {
                to = Time(ours, k);
                tb = Time(baseline, k);
            }

            ratios.Add(tb / to);
            bestBase = Math.Min(bestBase, tb);
            bestOurs = Math.Min(bestOurs, to);
        }

        double perValue = 1e9 / ((double)k * values);
        return (bestBase * perValue, bestOurs * perValue, bestBase / bestOurs, Median([.. ratios]), ratios.Count);
    }

    private static double Time(Action action, int count)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            action();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }
}
