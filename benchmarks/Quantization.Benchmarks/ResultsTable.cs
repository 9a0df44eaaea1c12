using System.Globalization;
using System.Text;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Quantization.Benchmarks;

/// <summary>
/// The compact markdown table of benchmarks/RESULTS.md: per type, ours and ggml in M values/s and the speed-up
/// (ggml's median time / ours), for the default tier and the AVX2 tier, built from every summary of one run.
/// </summary>
internal static class ResultsTable
{
    public static Measurements FromSummaries(IEnumerable<Summary> summaries)
    {
        var m = new Measurements();
        foreach (Summary summary in summaries)
        {
            foreach (BenchmarkCase bc in summary.BenchmarksCases)
            {
                if (summary[bc]?.ResultStatistics is { } stats && bc.Parameters["Type"] is QuantType type)
                {
                    m.NsPerValue[new MeasurementKey(bc.Descriptor.Type.Name, bc.Descriptor.WorkloadMethod.Name, type, bc.Job.Id)] = stats.Median;
                }
            }
        }

        return m;
    }

    public static string Build(Measurements medians, string command, string method, string speedupRule)
    {
        string host = CpuName();
        string[] jobs = [.. new[] { Program.DefaultJobId, Program.Avx2JobId }.Where(j => medians.NsPerValue.Keys.Any(k => k.Job == j))];
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {host}, {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, {method}.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Cells are {string.Join(" / ", jobs.Select(Describe))}. {speedupRule} (> 1: ours faster).");
        if (medians.NsPerValue.Keys.Any(k => k.Class is "QuantizeBenchmarks" or "QuantizeWithImportanceBenchmarks" or "DequantizeBenchmarks" or "ActivationQuantizeBenchmarks"))
        {
            AppendQuantize(sb, medians, jobs);
        }

        AppendMatVec(sb, medians, jobs);
        return sb.ToString();
    }

    /// <summary>The quantize / dequantize tables (single thread, 64 × 4096).</summary>
    private static void AppendQuantize(StringBuilder sb, Measurements medians, string[] jobs)
    {
        sb.AppendLine();
        sb.AppendLine("Quantize and dequantize: single thread, 64 × 4096 transformer-like matrix.");
        sb.AppendLine();
        sb.AppendLine("| Type | Quantize: ours M/s | ggml M/s | speed-up | Dequantize: ours M/s | ggml M/s | speed-up |");
        sb.AppendLine("|---|--:|--:|--:|--:|--:|--:|");

        // Weight formats (floats first), each with its importance row where the quantizer uses importance, then the
        // activation-only formats (ggml quantizes them with quantize_row_*_ref; it has no Q8_1 dequantizer).
        (string Label, QuantType Type, string QClass, string QBaseline, string? DClass)[] rows =
        [
            .. BenchmarkTypes.GgmlWeights
                .OrderBy(t => QuantFormat.Get(t).BlockSize == 1 ? 0 : 1).ThenBy(t => (int)t)
                .SelectMany(t => BenchmarkTypes.GgmlWeightsWithImportance.Contains(t)
                    ? new[] { (t.ToString(), t, "QuantizeBenchmarks", "Ggml", (string?)"DequantizeBenchmarks"), ($"{t} + imatrix", t, "QuantizeWithImportanceBenchmarks", "Ggml", null) }
                    : [(t.ToString(), t, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks")]),
            .. BenchmarkTypes.GgmlActivations
                .Where(t => !BenchmarkTypes.GgmlWeights.Contains(t))
                .Select(t => ($"{t} ¹", t, "ActivationQuantizeBenchmarks", "GgmlRef", BenchmarkTypes.GgmlDequantizers.Contains(t) ? "DequantizeBenchmarks" : (string?)null)),
        ];

        foreach (var (label, type, qClass, qBaseline, dClass) in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {label} | ");
            sb.Append(Cells(medians, jobs, qClass, qBaseline, type));
            sb.Append(" | ");
            sb.Append(dClass is null ? "— | — | —" : Cells(medians, jobs, dClass, "Ggml", type));
            sb.AppendLine(" |");
        }

        sb.AppendLine();
        sb.AppendLine("¹ Activation formats: ggml's quantizer is `quantize_row_q8_1_ref` / `quantize_row_q8_K_ref` (ggml_quantize_chunk does not take them). ggml has no Q8_1 dequantizer.");
        sb.AppendLine();
        sb.AppendLine("Activation quantizers against the CPU backend's SIMD `quantize_row_*` as well (what llama.cpp runs per token; it rounds .5 ties differently, so its bytes may differ slightly):");
        sb.AppendLine();
        sb.AppendLine("| Type | ours M/s | ggml `_ref` M/s | ggml CPU SIMD M/s | speed-up vs `_ref` | speed-up vs SIMD |");
        sb.AppendLine("|---|--:|--:|--:|--:|--:|");
        foreach (QuantType type in BenchmarkTypes.GgmlActivations)
        {
            const string c = "ActivationQuantizeBenchmarks";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {type} | {Join(jobs, j => Rate(medians, c, "Ours", type, j))} | {Join(jobs, j => Rate(medians, c, "GgmlRef", type, j))} | {Join(jobs, j => Rate(medians, c, "GgmlCpu", type, j))} | {Join(jobs, j => Speedup(medians, c, "GgmlRef", type, j))} | {Join(jobs, j => Speedup(medians, c, "GgmlCpu", type, j))} |");
        }

    }

    /// <summary>The MatVec classes with the matrix size each measures.</summary>
    private static readonly (string Class, string Size)[] MatVecClasses =
    [
        (nameof(MatVec4096x4096Benchmarks), "4096×4096"),
        (nameof(MatVec16384x4096Benchmarks), "16384×4096"),
        (nameof(MatVecSmokeBenchmarks), $"{MatVecSmokeBenchmarks.Rows}×{MatVecBenchmarks.MatrixColumns}"),
    ];

    private static readonly (string Class, string Size)[] BandwidthClasses =
    [
        (nameof(MatVecBandwidthBenchmarks), "16384×4096"),
        (nameof(MatVecSmokeBenchmarks), $"{MatVecSmokeBenchmarks.Rows}×{MatVecBenchmarks.MatrixColumns}"),
    ];

    /// <summary>The matrix-vector tables: ours against ggml's vec_dot and graph, and against the read bandwidth.</summary>
    private static void AppendMatVec(StringBuilder sb, Measurements m, string[] jobs)
    {
        QuantType[] Types(string cls) =>
            [.. m.NsPerValue.Keys.Where(k => k.Class == cls).Select(k => k.Type).Distinct()
                 .OrderBy(t => Array.IndexOf(MatVecBenchmarks.Formats, t) is int i and >= 0 ? i : int.MaxValue).ThenBy(t => (int)t)];

        var matVec = MatVecClasses.Where(c => Types(c.Class).Length > 0).ToArray();
        if (matVec.Length > 0)
        {
            bool layouts = m.Info.Keys.Any(k => k.Method == "GraphLayout");
            sb.AppendLine();
            sb.AppendLine("Matrix-vector products, one thread (`QuantizedMath.MatVec`, which quantizes x inside every call). GB/s of weight bytes; speed-up = baseline time / our time (> 1: ours faster). Baselines over the same weight bytes: ggml's `ggml_vec_dot_*` in a loop (nrc = 1; x quantized once in the setup, so it does less work than ours), and llama.cpp's decode path, `ggml_mul_mat` computed by the CPU backend on one thread with the weights in its CPU_REPACK buffer where ggml repacks the type (else a plain CPU buffer), graph built once, x quantized inside every compute as ours.");
            sb.AppendLine();
            sb.AppendLine(layouts
                ? "| Format | Matrix | ours GB/s | ggml vec_dot GB/s | speed-up | ggml graph GB/s | speed-up | graph weights |"
                : "| Format | Matrix | ours GB/s | ggml vec_dot GB/s | speed-up | ggml graph GB/s | speed-up |");
            sb.AppendLine(layouts ? "|---|---|--:|--:|--:|--:|--:|---|" : "|---|---|--:|--:|--:|--:|--:|");
            bool floatBaseline = false;
            foreach (var (cls, size) in matVec)
            {
                foreach (QuantType t in Types(cls))
                {
                    bool ggml = MatVecBenchmarks.HasGgmlCounterpart(t);
                    floatBaseline |= !ggml;
                    string baseline = ggml ? "Ggml" : "OursFloat";
                    bool graph = m.NsPerValue.Keys.Any(k => k.Class == cls && k.Type == t && k.Method == "GgmlGraph");
                    sb.Append(CultureInfo.InvariantCulture, $"| {t}{(ggml ? "" : " ²")} | {size} | {Join(jobs, j => GBps(m, cls, "Ours", t, j))} | ");
                    sb.Append(CultureInfo.InvariantCulture, $"{Join(jobs, j => GBps(m, cls, baseline, t, j))} | {Join(jobs, j => Speedup(m, cls, baseline, t, j))} | ");
                    sb.Append(graph
                        ? $"{Join(jobs, j => GBps(m, cls, "GgmlGraph", t, j))} | {Join(jobs, j => Speedup(m, cls, "GgmlGraph", t, j))} |"
                        : "— | — |");
                    if (layouts)
                    {
                        sb.Append(graph ? $" {Join(jobs, j => m.Info.GetValueOrDefault(new MeasurementKey(cls, "GraphLayout", t, j)) ?? "?")} |" : " — |");
                    }

                    sb.AppendLine();
                }
            }

            if (floatBaseline)
            {
                sb.AppendLine();
                sb.AppendLine("² ggml has no such format: the baseline columns are our own float path (`QuantizedMath.MatVecAccurate`: each block dequantized, x kept in float).");
            }
        }

        foreach (var (cls, size) in BandwidthClasses)
        {
            QuantType[] types = Types(cls);
            if (!m.NsPerValue.Keys.Any(k => k.Class == cls && k.Method.StartsWith("Read", StringComparison.Ordinal)))
            {
                continue;
            }

            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"MatVec on {size} against a managed read of as many bytes on as many threads (a Vector512/256/128 sum; the STREAM-like ceiling of the machine), measured in alternating rounds in the same process. GB/s of weight bytes; ratio = MatVec GB/s ÷ read GB/s (best round of each), and the spread of the per-round ratios (min / median / max: the second core is shared, so single rounds vary).");
            sb.AppendLine();
            sb.AppendLine("| Tier | Format | 1 thread: ours GB/s | read GB/s | ratio | rounds min / median / max | 2 threads: ours GB/s | read GB/s | ratio | rounds min / median / max |");
            sb.AppendLine("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
            foreach (string job in jobs)
            {
                foreach (QuantType t in types)
                {
                    if (!m.NsPerValue.Keys.Any(k => k.Class == cls && k.Type == t && k.Job == job && k.Method.StartsWith("Read", StringComparison.Ordinal)))
                    {
                        continue;
                    }

                    sb.AppendLine(CultureInfo.InvariantCulture,
                        $"| {TierName(job)} | {t} | {GBps(m, cls, "Ours1T", t, job)} | {GBps(m, cls, "Read1T", t, job)} | {Ratio(m, cls, "Read1T", t, job)} | {Spread(m, cls, "Read1T", t, job)} | {GBps(m, cls, "Ours2T", t, job)} | {GBps(m, cls, "Read2T", t, job)} | {Ratio(m, cls, "Read2T", t, job)} | {Spread(m, cls, "Read2T", t, job)} |");
                }
            }
        }
    }

    private static string TierName(string job) => job == Program.Avx2JobId ? "AVX2" : "default";

    private static string GBps(Measurements m, string cls, string method, QuantType type, string job) =>
        m.NsPerValue.TryGetValue(new MeasurementKey(cls, method, type, job), out double ns)
            ? (QuantFormat.Get(type).BitsPerWeight / 8 / ns).ToString("0.0", CultureInfo.InvariantCulture)
            : "?";

    private static string Ratio(Measurements m, string cls, string baseline, QuantType type, string job) =>
        m.Speedup(cls, baseline, type, job) is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) : "?";

    private static string Spread(Measurements m, string cls, string baseline, QuantType type, string job) =>
        m.RatioSpread.TryGetValue(new MeasurementKey(cls, baseline, type, job), out var s)
            ? string.Create(CultureInfo.InvariantCulture, $"{s.Min:0.00} / {s.Median:0.00} / {s.Max:0.00}")
            : "—";

    private static string CpuName()
    {
        try
        {
            string? line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
            return line is null ? System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Describe(string job) => job == Program.Avx2JobId
        ? "AVX2 tier (DOTNET_EnableAVX512=0, ggml's avx2 build)"
        : System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64
            ? $"default tier ({(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "AVX-512" : "AVX2")} here, ggml's {(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512" : "avx2")} build)"
            : "default tier (NEON here, ggml's linux-arm64 build)";

    private static string Cells(Measurements m, string[] jobs, string cls, string baseline, QuantType type) =>
        $"{Join(jobs, j => Rate(m, cls, "Ours", type, j))} | {Join(jobs, j => Rate(m, cls, baseline, type, j))} | {Join(jobs, j => Speedup(m, cls, baseline, type, j))}";

    private static string Join(string[] jobs, Func<string, string> cell) => string.Join(" / ", jobs.Select(cell));

    private static string Rate(Measurements m, string cls, string method, QuantType type, string job) =>
        m.NsPerValue.TryGetValue(new MeasurementKey(cls, method, type, job), out double ns) ? Format(1000.0 / ns) : "?";

    private static string Speedup(Measurements m, string cls, string baseline, QuantType type, string job) =>
        m.Speedup(cls, baseline, type, job) is { } x ? x.ToString(x >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + "×" : "?";

    private static string Format(double mValuesPerSecond) =>
        mValuesPerSecond.ToString(mValuesPerSecond >= 100 ? "N0" : "0.0", CultureInfo.InvariantCulture);
}

/// <summary>One benchmark: class, method, type parameter and job (tier) id.</summary>
internal readonly record struct MeasurementKey(string Class, string Method, QuantType Type, string Job);

/// <summary>Median nanoseconds per value per benchmark, and (paired runs) speed-ups measured round by round.</summary>
internal sealed class Measurements
{
    public Dictionary<MeasurementKey, double> NsPerValue { get; } = [];

    /// <summary>Keyed by the baseline's benchmark: baseline time / our time, when measured directly (paired runs).</summary>
    public Dictionary<MeasurementKey, double> MeasuredSpeedup { get; } = [];

    /// <summary>Keyed by the baseline's benchmark: min / median / max of the per-round ratios baseline / ours (paired runs).</summary>
    public Dictionary<MeasurementKey, (double Min, double Median, double Max)> RatioSpread { get; } = [];

    /// <summary>Facts a run reports besides times, e.g. Method "GraphLayout" → "q4_0_8x8" (paired runs).</summary>
    public Dictionary<MeasurementKey, string> Info { get; } = [];

    public double? Speedup(string cls, string baseline, QuantType type, string job)
    {
        var key = new MeasurementKey(cls, baseline, type, job);
        if (MeasuredSpeedup.TryGetValue(key, out double x))
        {
            return x;
        }

        return NsPerValue.TryGetValue(key, out double theirs) && NsPerValue.TryGetValue(key with { Method = "Ours" }, out double ours)
            ? theirs / ours
            : null;
    }
}
