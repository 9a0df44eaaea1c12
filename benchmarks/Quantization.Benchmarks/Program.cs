using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;

namespace Quantization.Benchmarks;

/// <summary>
/// Entry point. Own options (removed before BenchmarkDotNet sees the rest):
/// <c>--model-convert</c> (<see cref="ModelConversionBenchmark"/>),
/// <c>--schemes</c> (the quantization schemes against ggml's Q8_0 / Q4_1 vec_dot, <see cref="SchemeBenchmarks"/>),
/// <c>--lora [RANK]</c> (what an adapter adds to a 4096 × 4096 Q4_K MatVec, <see cref="LoraBenchmark"/>),
/// <c>--calibration [SIZE]</c> (seconds of GPTQ and AWQ on a SIZE × SIZE Q4_K matrix, <see cref="CalibrationBenchmark"/>),
/// <c>--checkpoints</c> (GPTQ / AWQ / bitsandbytes / FP8 checkpoint layouts against ggml's Q4_1 / Q8_0 vec_dot, <see cref="CheckpointBenchmarks"/>),
/// <c>--checkpoint-open [MiB]</c> (opening a sharded safetensors checkpoint and its first MatVec, <see cref="CheckpointOpenBenchmark"/>),
/// <c>--short</c> (1 launch, 3 warm-ups, 5 iterations of ~200 ms: everything in about 10 minutes on 2 cores),
/// <c>--tiers default|avx2|both</c> (default: both; on arm64 there is only the default tier), <c>--paired</c> (the in-process
/// cross-check of <see cref="PairedRunner"/>), <c>--smoke</c> (every MatVec side of a few formats on a small matrix, a few
/// rounds each, all cross-checks: a correctness check of the harness, e.g. under qemu; exit code 1 on any failure),
/// <c>--first-call</c> (first-call latency of MatVec per family against its steady state, <see cref="FirstCallRunner"/>;
/// <c>--filter</c> takes a substring of the format's name).
/// Everything else is BenchmarkDotNet's (<c>--filter</c>, default <c>*</c>; <c>--anyCategories</c>, ...).
/// </summary>
public static class Program
{
    /// <summary>The job id of the runtime's default instruction-set tier (AVX-512 on the reference machine).</summary>
    public const string DefaultJobId = "DefaultTier";

    /// <summary>The job id of the AVX2-only tier (DOTNET_EnableAVX512=0; GgmlNative then loads ggml's avx2 build).</summary>
    public const string Avx2JobId = "Avx2Tier";

    public static int Main(string[] args)
    {
        if (args.Length >= 2 && args[0] == PairedRunner.ChildFlag)
        {
            return PairedRunner.RunChild(args[1], args.Length > 2 ? args[2] : null);
        }

        if (args.Length >= 1 && args[0] == "--schemes")
        {
            return SchemeBenchmarks.Run();
        }

        if (args.Length >= 1 && args[0] == "--lora")
        {
            return LoraBenchmark.Run(rank: args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 16, rounds: 41);
        }

        if (args.Length >= 1 && args[0] == "--calibration")
        {
            return CalibrationBenchmark.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4096);
        }

        if (args.Length >= 1 && args[0] == "--checkpoints")
        {
            return CheckpointBenchmarks.Run();
        }

        if (args.Length >= 1 && args[0] == "--checkpoint-open")
        {
            return CheckpointOpenBenchmark.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024);
        }

        if (args.Length >= 2 && args[0] == FirstCallRunner.ChildFlag)
        {
            return FirstCallRunner.RunChild(args[1]);
        }

        var rest = new List<string>(args);
        if (rest.Remove("--first-call"))
        {
            return FirstCallRunner.Run(TakeOption(rest, "--filter"));
        }

        if (rest.Remove("--model-convert"))
        {
            return ModelConversionBenchmark.Run(int.Parse(TakeOption(rest, "--layers") ?? "1", CultureInfo.InvariantCulture),
                                                int.Parse(TakeOption(rest, "--vocab") ?? "32000", CultureInfo.InvariantCulture),
                                                TakeOption(rest, "--preset") ?? "Q4_K_M",
                                                int.Parse(TakeOption(rest, "--rounds") ?? "2", CultureInfo.InvariantCulture));
        }

        bool isShort = rest.Remove("--short");
        bool paired = rest.Remove("--paired");
        if (rest.Remove("--smoke"))
        {
            try
            {
                return PairedRunner.RunSmoke(TakeOption(rest, "--filter"));
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"smoke FAILED: {ex}");
                return 1;
            }
        }

        string tiers = TakeOption(rest, "--tiers") ?? "both";
        if (tiers is not ("default" or "avx2" or "both"))
        {
            Console.Error.WriteLine("--tiers must be default, avx2 or both");
            return 2;
        }

        string command = "dotnet run -c Release --project benchmarks/Quantization.Benchmarks -- " + string.Join(' ', args);
        string[] jobIds = tiers switch
        {
            _ when RuntimeInformation.ProcessArchitecture != Architecture.X64 => [DefaultJobId], // NEON: one tier
            "default" => [DefaultJobId],
            "avx2" => [Avx2JobId],
            _ => [DefaultJobId, Avx2JobId],
        };

        if (paired)
        {
            // In-process alternating measurement (PairedRunner); --filter takes one substring of "Class.Type" or
            // "Class.Baseline.Type" here (e.g. MatVec4096x4096Benchmarks.Q4_0, GgmlGraph, MatVecBandwidthBenchmarks).
            Measurements m = PairedRunner.Run(jobIds, TakeOption(rest, "--filter"));
            string pairedTable = ResultsTable.Build(m, command, "paired in-process run (alternating ~2 ms batches, or one cold call for 16384 × 4096, up to 101 rounds per pair, best round per side)",
                                                    "M values/s = 1000 / best-round ns per value; speed-up = ggml best time / our best time");
            string dir = Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts", "results");
            Directory.CreateDirectory(dir);
            string file = Path.Combine(dir, "compact-results-paired.md");
            File.WriteAllText(file, pairedTable);
            Console.WriteLine();
            Console.WriteLine(pairedTable);
            Console.WriteLine($"// compact table written to {file}");
            return 0;
        }

        if (!rest.Any(a => a is "--filter" or "-f" or "--list" or "--help" or "-h" or "--info" or "--version"))
        {
            rest.AddRange(["--filter", "*"]); // everything, instead of BenchmarkDotNet's interactive menu
        }

        Job job = Job.Default;
        if (isShort)
        {
            job = job.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5)
                     .WithIterationTime(TimeInterval.FromMilliseconds(200));
        }

        IConfig config = DefaultConfig.Instance
            .AddColumn(ThroughputColumn.Instance)
            .AddColumn(WeightBandwidthColumn.Instance)
            .AddColumn(StatisticColumn.Median)
            .AddFilter(new SimpleFilter(MatVecBenchmarks.IsApplicable))
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend));
        foreach (string id in jobIds)
        {
            config = config.AddJob(id == Avx2JobId ? job.WithEnvironmentVariable("DOTNET_EnableAVX512", "0").WithId(id) : job.WithId(id));
        }

        Summary[] summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config).ToArray();
        if (summaries.Length == 0)
        {
            return 0;
        }

        string table = ResultsTable.Build(ResultsTable.FromSummaries(summaries), command,
                                          "BenchmarkDotNet " + (isShort ? "--short job (1 launch, 3 warm-ups, 5 iterations of 200 ms)" : "default job"),
                                          "M values/s = 1000 / median ns per value; speed-up = ggml median time / our median time");
        string path = Path.Combine(summaries[0].ResultsDirectoryPath, "compact-results.md");
        File.WriteAllText(path, table);
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"// compact table written to {path}");
        Console.WriteLine($"// host: Avx512F {Avx512F.IsSupported}, Avx2 {Avx2.IsSupported}");
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    private static string? TakeOption(List<string> args, string name)
    {
        int i = args.IndexOf(name);
        if (i < 0 || i + 1 >= args.Count)
        {
            return null;
        }

        string value = args[i + 1];
        args.RemoveRange(i, 2);
        return value;
    }
}
