using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Quantization.Benchmarks;

/// <summary>
/// Millions of values per second. Every benchmark sets <c>OperationsPerInvoke</c> to its value count, so the
/// statistics are nanoseconds per value and the throughput is 1000 / median.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    public static readonly ThroughputColumn Instance = new();

    public string Id => "MValuesPerSecond";

    public string ColumnName => "M values/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Millions of values processed per second (1000 / median nanoseconds per value)";

    public static double? MValuesPerSecond(Summary summary, BenchmarkCase benchmarkCase) =>
        summary[benchmarkCase]?.ResultStatistics is { } s && s.Median > 0 ? 1000.0 / s.Median : null;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        MValuesPerSecond(summary, benchmarkCase) is { } v ? v.ToString("N0", style.CultureInfo) : "NA";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public override string ToString() => ColumnName;
}
