using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;

namespace Quantization.Benchmarks;

/// <summary>
/// Entry point. Own options (removed before BenchmarkDotNet sees the rest):
/// <c>--short</c> (1 launch, 3 warm-ups, 5 iterations of ~200 ms: everything in about 10 minutes on 2 cores),
/// <c>--tiers default|avx2|both</c> (default: both). Everything else is BenchmarkDotNet's (<c>--filter</c>, ...).
/// </summary>
public static class Program
{
    /// <summary>The job id of the runtime's default instruction-set tier (AVX-512 on the reference machine).</summary>
    public const string DefaultJobId = "DefaultTier";

    /// <summary>The job id of the AVX2-only tier (DOTNET_EnableAVX512=0; GgmlNative then loads ggml's avx2 build).</summary>
    public const string Avx2JobId = "Avx2Tier";

    public static int Main(string[] args)
    {
        var rest = new List<string>(args);
        bool isShort = rest.Remove("--short");
        string tiers = TakeOption(rest, "--tiers") ?? "both";
        if (tiers is not ("default" or "avx2" or "both"))
        {
            Console.Error.WriteLine("--tiers must be default, avx2 or both");
            return 2;
        }

        Job job = Job.Default;
        if (isShort)
        {
            job = job.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5)
                     .WithIterationTime(TimeInterval.FromMilliseconds(200));
        }

        IConfig config = DefaultConfig.Instance
            .AddColumn(ThroughputColumn.Instance)
            .AddColumn(StatisticColumn.Median)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend));
        if (tiers is "default" or "both")
        {
            config = config.AddJob(job.WithId(DefaultJobId));
        }

        if (tiers is "avx2" or "both")
        {
            config = config.AddJob(job.WithEnvironmentVariable("DOTNET_EnableAVX512", "0").WithId(Avx2JobId));
        }

        Summary[] summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config).ToArray();
        if (summaries.Length == 0)
        {
            return 0;
        }

        string command = "dotnet run -c Release --project benchmarks/Quantization.Benchmarks -- " + string.Join(' ', args);
        string table = ResultsTable.Build(summaries, command, isShort);
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
