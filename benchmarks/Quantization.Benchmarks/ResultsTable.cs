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
        sb.AppendLine(CultureInfo.InvariantCulture, $"Cells are {string.Join(" / ", jobs.Select(Describe))}. {speedupRule} (> 1: ours faster). Single thread, 64 × 4096 transformer-like matrix.");
        sb.AppendLine();
        sb.AppendLine("| Type | Quantize: ours M/s | ggml M/s | speed-up | Dequantize: ours M/s | ggml M/s | speed-up |");
        sb.AppendLine("|---|--:|--:|--:|--:|--:|--:|");

        (string Label, QuantType Type, string QClass, string QBaseline, string? DClass)[] rows =
        [
            ("F16", QuantType.F16, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("BF16", QuantType.BF16, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q4_0", QuantType.Q4_0, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q4_0 + imatrix", QuantType.Q4_0, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q4_1", QuantType.Q4_1, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q4_1 + imatrix", QuantType.Q4_1, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q5_0", QuantType.Q5_0, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q5_0 + imatrix", QuantType.Q5_0, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q5_1", QuantType.Q5_1, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q5_1 + imatrix", QuantType.Q5_1, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q8_0", QuantType.Q8_0, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q2_K", QuantType.Q2_K, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q2_K + imatrix", QuantType.Q2_K, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q3_K", QuantType.Q3_K, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q3_K + imatrix", QuantType.Q3_K, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q4_K", QuantType.Q4_K, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q4_K + imatrix", QuantType.Q4_K, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q5_K", QuantType.Q5_K, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q5_K + imatrix", QuantType.Q5_K, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("Q6_K", QuantType.Q6_K, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q6_K + imatrix", QuantType.Q6_K, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("IQ4_NL", QuantType.IQ4_NL, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("IQ4_NL + imatrix", QuantType.IQ4_NL, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("IQ4_XS", QuantType.IQ4_XS, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("IQ4_XS + imatrix", QuantType.IQ4_XS, "QuantizeWithImportanceBenchmarks", "Ggml", null),
            ("TQ2_0", QuantType.TQ2_0, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("TQ1_0", QuantType.TQ1_0, "QuantizeBenchmarks", "Ggml", "DequantizeBenchmarks"),
            ("Q8_1 ¹", QuantType.Q8_1, "ActivationQuantizeBenchmarks", "GgmlRef", null),
            ("Q8_K ¹", QuantType.Q8_K, "ActivationQuantizeBenchmarks", "GgmlRef", "DequantizeBenchmarks"),
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
        foreach (QuantType type in new[] { QuantType.Q8_0, QuantType.Q8_1, QuantType.Q8_K })
        {
            const string c = "ActivationQuantizeBenchmarks";
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {type} | {Join(jobs, j => Rate(medians, c, "Ours", type, j))} | {Join(jobs, j => Rate(medians, c, "GgmlRef", type, j))} | {Join(jobs, j => Rate(medians, c, "GgmlCpu", type, j))} | {Join(jobs, j => Speedup(medians, c, "GgmlRef", type, j))} | {Join(jobs, j => Speedup(medians, c, "GgmlCpu", type, j))} |");
        }

        return sb.ToString();
    }

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
        : "default tier (AVX-512 here, ggml's avx512 build)";

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
