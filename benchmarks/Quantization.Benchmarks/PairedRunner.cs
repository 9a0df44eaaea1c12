using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Quantization.Oracle;

namespace Quantization.Benchmarks;

/// <summary>
/// A cross-check of BenchmarkDotNet's ratios for a shared, loaded machine (<c>--paired</c>): the same benchmark classes
/// (same data, same setup and sanity checks), but a baseline and ours are timed in alternating short batches (about 2 ms,
/// at least one call) in one process, up to 101 rounds or about 4 s per comparison. Other processes only ever add time,
/// so each side's <b>best</b> round estimates its speed on an idle core, and the speed-up is the ratio of the two best
/// times; the min / median / max of the per-round ratios are reported beside it.
/// The 16384 × 4096 MatVec and the bandwidth comparisons time one call per batch with the caches evicted (untimed)
/// before each, so every call streams its matrix from memory as a decode step does.
/// Each tier runs in a child process of its own (DOTNET_EnableAVX512=0 for the AVX2 tier), as BenchmarkDotNet does.
/// </summary>
internal static class PairedRunner
{
    public const string ChildFlag = "--paired-child";

    /// <summary>How long each pair is measured.</summary>
    private sealed record Settings(int MinWarmCalls, double WarmSeconds, int MinRounds, int MaxRounds, double PairSeconds, double BatchSeconds);

    private static readonly Settings Full = new(MinWarmCalls: 60, WarmSeconds: 0.5, MinRounds: 15, MaxRounds: 101, PairSeconds: 4.0, BatchSeconds: 0.002);

    /// <summary><c>--smoke</c>: enough calls to run every path, no timing worth reading.</summary>
    private static readonly Settings Smoke = new(MinWarmCalls: 2, WarmSeconds: 0, MinRounds: 3, MaxRounds: 3, PairSeconds: 0, BatchSeconds: 0);

    /// <summary>One timed comparison: a baseline method against one of ours, alternated round by round.</summary>
    private sealed record Comparison(string Baseline, Action RunBaseline, string Ours, Action RunOurs);

    /// <summary>One benchmark instance (class and type): set up once, then every comparison, then cleaned up.</summary>
    private sealed record Case(string Class, QuantType Type, Action Setup, Action Cleanup, Comparison[] Comparisons,
                               long Values = BenchmarkData.Values, Func<string?>? GraphLayout = null, Action? Verify = null,
                               bool Cold = false);

    /// <summary>Runs every pair for each requested tier in a child process and gathers the measurements.</summary>
    public static Measurements Run(IEnumerable<string> jobIds, string? filter)
    {
        var all = new Measurements();
        foreach (string job in jobIds)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            {
                psi.ArgumentList.Add(typeof(PairedRunner).Assembly.Location); // started as `dotnet Quantization.Benchmarks.dll`
            }

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
                if (!Parse(line, all))
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
        Measure(Cases(), job, filter, Full, new Measurements(), writeLines: true);
        return 0;
    }

    /// <summary>
    /// <c>--smoke</c>: every MatVec side of a few formats on a 256 × 4096 matrix in this process (no child: under qemu-user a
    /// child could not start), a few rounds each, every setup cross-check, the results verified again after the timed
    /// rounds, and the markdown table built. Exit code 0 when all of it ran.
    /// </summary>
    public static int RunSmoke(string? filter)
    {
        QuantType[] types = [.. BenchmarkTypes.Representatives, .. MatVecBenchmarks.Formats.Where(t => !MatVecBenchmarks.HasGgmlCounterpart(t))];
        var cases = types.Select(t =>
        {
            var b = new MatVecSmokeBenchmarks { Type = t };
            var comparisons = new List<Comparison>();
            if (MatVecBenchmarks.IsApplicable("Ggml", t))
            {
                comparisons.Add(new("Ggml", b.Ggml, "Ours", b.Ours));
            }

            if (MatVecBenchmarks.IsApplicable("GgmlGraph", t))
            {
                comparisons.Add(new("GgmlGraph", b.GgmlGraph, "Ours", b.Ours));
            }

            if (MatVecBenchmarks.IsApplicable("OursFloat", t))
            {
                comparisons.Add(new("OursFloat", b.OursFloat, "Ours", b.Ours));
            }

            comparisons.Add(new("Read1T", () => b.Read1T(), "Ours1T", b.Ours));
            comparisons.Add(new("Read2T", () => b.Read2T(), "Ours2T", b.Ours2T));
            return new Case(nameof(MatVecSmokeBenchmarks), t, b.Setup, b.Cleanup, [.. comparisons],
                            (long)MatVecSmokeBenchmarks.Rows * MatVecBenchmarks.MatrixColumns, () => b.GraphLayout, b.Verify);
        });

        var m = new Measurements();
        int ran = Measure(cases, Program.DefaultJobId, filter, Smoke, m, writeLines: false);
        string table = ResultsTable.Build(m, "--smoke", "smoke run (a few rounds per pair; correctness of the harness only)",
                                           "Timings from a few rounds of unwarmed code mean nothing here; speed-up = baseline time / our time");
        if (!table.Contains($"| {MatVecSmokeBenchmarks.Rows}×{MatVecBenchmarks.MatrixColumns} |", StringComparison.Ordinal) && ran > 0)
        {
            throw new InvalidOperationException("The smoke measurements are missing from the results table.");
        }

        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"// ggml {GgmlNative.Variant} build reports: {GgmlMulMatGraph.CpuFeatures()}");
        Console.WriteLine($"// smoke: {ran} comparisons ran and checked ({RuntimeInformation.ProcessArchitecture}, ggml {GgmlNative.Variant})");
        return ran > 0 ? 0 : 1;
    }

    /// <summary>Measures every comparison that the filter selects; writes result lines and records them in <paramref name="into"/>.</summary>
    private static int Measure(IEnumerable<Case> cases, string job, string? filter, Settings settings, Measurements into, bool writeLines)
    {
        int ran = 0;
        foreach (Case c in cases)
        {
            Comparison[] selected = [.. c.Comparisons.Where(x => filter is null
                || $"{c.Class}.{c.Type}".Contains(filter, StringComparison.OrdinalIgnoreCase)
                || $"{c.Class}.{x.Baseline}.{c.Type}".Contains(filter, StringComparison.OrdinalIgnoreCase))];
            if (selected.Length == 0)
            {
                continue;
            }

            c.Setup();
            try
            {
                if (c.GraphLayout?.Invoke() is { } layout)
                {
                    Emit(into, Invariant($"I\t{c.Class}\tGraphLayout\t{c.Type}\t{job}\t{layout}"));
                }

                foreach (Comparison x in selected)
                {
                    (double baseNs, double oursNs, double speedup, double min, double median, double max, int rounds) =
                        Measure(x.RunBaseline, x.RunOurs, c.Values, c.Cold ? settings with { BatchSeconds = 0 } : settings, c.Cold);
                    Emit(into, Invariant($"T\t{c.Class}\t{x.Baseline}\t{c.Type}\t{job}\t{baseNs:R}"));
                    Emit(into, Invariant($"T\t{c.Class}\t{x.Ours}\t{c.Type}\t{job}\t{oursNs:R}"));
                    Emit(into, Invariant($"S\t{c.Class}\t{x.Baseline}\t{c.Type}\t{job}\t{speedup:R}"));
                    Emit(into, Invariant($"R\t{c.Class}\t{x.Baseline}\t{c.Type}\t{job}\t{min:R}\t{median:R}\t{max:R}"));
                    Console.WriteLine(Invariant(
                        $"// {job,-11} {c.Class,-34} {c.Type,-6} {x.Baseline,-9} {1000 / baseNs,9:N1} M/s  {x.Ours,-6} {1000 / oursNs,9:N1} M/s  speed-up {speedup:0.00}x (round ratios min {min:0.00} median {median:0.00} max {max:0.00}, {rounds} rounds)"));
                    ran++;
                }

                c.Verify?.Invoke();
            }
            finally
            {
                c.Cleanup();
            }
        }

        return ran;

        // Writes one result line to stdout (for the parent to parse) and records it.
        void Emit(Measurements m, string line)
        {
            if (writeLines)
            {
                Console.WriteLine(line);
            }

            Parse(line, m);
        }
    }

    /// <summary>Records a tab-separated result line; false for any other line.</summary>
    private static bool Parse(string line, Measurements m)
    {
        string[] f = line.Split('\t');
        if (f.Length < 6 || f[0] is not ("T" or "S" or "R" or "I") || !Enum.TryParse(f[3], out QuantType type))
        {
            return false;
        }

        var key = new MeasurementKey(f[1], f[2], type, f[4]);
        double Number(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        switch (f[0])
        {
            case "T":
                m.NsPerValue.TryAdd(key, Number(5));
                break;
            case "S":
                m.MeasuredSpeedup[key] = Number(5);
                break;
            case "R" when f.Length == 8:
                m.RatioSpread[key] = (Number(5), Number(6), Number(7));
                break;
            case "I":
                m.Info[key] = f[5];
                break;
            default:
                return false;
        }

        return true;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static IEnumerable<Case> Cases()
    {
        foreach (QuantType t in ParamValues<QuantizeBenchmarks>())
        {
            var b = new QuantizeBenchmarks { Type = t };
            yield return new Case(nameof(QuantizeBenchmarks), t, b.Setup, b.Cleanup, [new("Ggml", () => b.Ggml(), "Ours", b.Ours)]);
        }

        foreach (QuantType t in ParamValues<QuantizeWithImportanceBenchmarks>())
        {
            var b = new QuantizeWithImportanceBenchmarks { Type = t };
            yield return new Case(nameof(QuantizeWithImportanceBenchmarks), t, b.Setup, b.Cleanup, [new("Ggml", () => b.Ggml(), "Ours", b.Ours)]);
        }

        foreach (QuantType t in ParamValues<DequantizeBenchmarks>())
        {
            var b = new DequantizeBenchmarks { Type = t };
            yield return new Case(nameof(DequantizeBenchmarks), t, b.Setup, b.Cleanup, [new("Ggml", b.Ggml, "Ours", b.Ours)]);
        }

        foreach (QuantType t in ParamValues<ActivationQuantizeBenchmarks>())
        {
            var b = new ActivationQuantizeBenchmarks { Type = t };
            yield return new Case(nameof(ActivationQuantizeBenchmarks), t, b.Setup, b.Cleanup,
                                  [new("GgmlRef", b.GgmlRef, "Ours", b.Ours), new("GgmlCpu", b.GgmlCpu, "Ours", b.Ours)]);
        }

        foreach (QuantType t in MatVecBenchmarks.Formats)
        {
            var b = new MatVec4096x4096Benchmarks { Type = t };
            yield return new Case(nameof(MatVec4096x4096Benchmarks), t, b.Setup, b.Cleanup,
                                  MatVecComparisons(t, b.Ggml, b.GgmlGraph, b.OursFloat, b.Ours), 4096L * MatVecBenchmarks.MatrixColumns, () => b.GraphLayout);
            var c = new MatVec16384x4096Benchmarks { Type = t };
            yield return new Case(nameof(MatVec16384x4096Benchmarks), t, c.Setup, c.Cleanup,
                                  MatVecComparisons(t, c.Ggml, c.GgmlGraph, c.OursFloat, c.Ours), 16384L * MatVecBenchmarks.MatrixColumns, () => c.GraphLayout,
                                  Cold: true);
        }

        foreach (QuantType t in MatVecBandwidthBenchmarks.BandwidthFormats)
        {
            var b = new MatVecBandwidthBenchmarks { Type = t };
            yield return new Case(nameof(MatVecBandwidthBenchmarks), t, b.Setup, b.Cleanup,
                                  [new("Read1T", () => b.Read1T(), "Ours1T", b.Ours1T), new("Read2T", () => b.Read2T(), "Ours2T", b.Ours2T)],
                                  16384L * MatVecBenchmarks.MatrixColumns, Cold: true);
        }
    }

    /// <summary>The comparisons of a MatVec type: ggml's vec_dot and graph where ggml has the type, else our float path.</summary>
    private static Comparison[] MatVecComparisons(QuantType t, Action ggml, Action graph, Action oursFloat, Action ours) =>
    [
        .. MatVecBenchmarks.IsApplicable("Ggml", t) ? [new Comparison("Ggml", ggml, "Ours", ours)] : Array.Empty<Comparison>(),
        .. MatVecBenchmarks.IsApplicable("GgmlGraph", t) ? [new Comparison("GgmlGraph", graph, "Ours", ours)] : Array.Empty<Comparison>(),
        .. MatVecBenchmarks.IsApplicable("OursFloat", t) ? [new Comparison("OursFloat", oursFloat, "Ours", ours)] : Array.Empty<Comparison>(),
    ];

    /// <summary>The [ParamsSource] values (a static property) of a class's Type property: the same cases BenchmarkDotNet runs.</summary>
    private static IEnumerable<QuantType> ParamValues<T>() =>
        (IEnumerable<QuantType>)typeof(T).GetProperty(typeof(T).GetProperty("Type")!.GetCustomAttribute<ParamsSourceAttribute>()!.Name)!.GetValue(null)!;

    private static (double BaseNs, double OursNs, double Speedup, double MinRatio, double MedianRatio, double MaxRatio, int Rounds) Measure(
        Action baseline, Action ours, long values, Settings settings, bool cold)
    {
        // Warm-up: enough calls for tiered compilation to reach optimized code (and for caches), ~0.5 s, and then until
        // no method has been compiled for WarmSeconds: on a loaded machine the background tier-1 compiles can take
        // seconds, and a pair timed on tier-0 code measures the JIT, not the kernel.
        var sw = Stopwatch.StartNew();
        var settled = Stopwatch.StartNew();
        long compiled = JitInfo.GetCompiledMethodCount();
        int warm = 0;
        while (warm < settings.MinWarmCalls || sw.Elapsed.TotalSeconds < settings.WarmSeconds || settled.Elapsed.TotalSeconds < settings.WarmSeconds)
        {
            baseline();
            ours();
            warm++;
            if (JitInfo.GetCompiledMethodCount() != compiled)
            {
                compiled = JitInfo.GetCompiledMethodCount();
                settled.Restart();
            }

            if (warm >= 3 && sw.Elapsed.TotalSeconds > 3 && (settled.Elapsed.TotalSeconds >= settings.WarmSeconds || sw.Elapsed.TotalSeconds > 30))
            {
                break; // slow cases (importance search): tier-up happens on the loop above anyway
            }
        }

        double one = Math.Min(Time(baseline, 1), Time(ours, 1));
        int k = Math.Max(1, (int)(settings.BatchSeconds / one));
        var ratios = new List<double>(settings.MaxRounds);
        double bestBase = double.MaxValue, bestOurs = double.MaxValue;
        sw.Restart();
        for (int r = 0; r < settings.MaxRounds && (r < settings.MinRounds || sw.Elapsed.TotalSeconds < settings.PairSeconds); r++)
        {
            double tb, to;
            if ((r & 1) == 0)
            {
                tb = Time(baseline, k, cold);
                to = Time(ours, k, cold);
            }
            else
            {
                to = Time(ours, k, cold);
                tb = Time(baseline, k, cold);
            }

            ratios.Add(tb / to);
            bestBase = Math.Min(bestBase, tb);
            bestOurs = Math.Min(bestOurs, to);
        }

        double perValue = 1e9 / ((double)k * values);
        double[] sorted = [.. ratios.Order()];
        return (bestBase * perValue, bestOurs * perValue, bestBase / bestOurs, sorted[0], sorted[sorted.Length / 2], sorted[^1], ratios.Count);
    }

    /// <summary>Seconds for <paramref name="count"/> calls; <paramref name="cold"/>: one call, after evicting the caches (untimed).</summary>
    private static double Time(Action action, int count, bool cold = false)
    {
        if (cold)
        {
            BenchmarkData.EvictCaches();
        }

        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            action();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
