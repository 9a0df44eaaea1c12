using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Quantization.Benchmarks;

/// <summary>GB/s of weight bytes: M values/s (<see cref="ThroughputColumn"/>) × the format's bytes per value.</summary>
public sealed class WeightBandwidthColumn : IColumn
{
    public static readonly WeightBandwidthColumn Instance = new();

    public string Id => "WeightGBps";

    public string ColumnName => "Weight GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 1;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Gigabytes of weight bytes read per second (matrix-vector benchmarks)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (!typeof(MatVecBenchmarks).IsAssignableFrom(benchmarkCase.Descriptor.Type)
            || benchmarkCase.Parameters["Type"] is not QuantType type
            || ThroughputColumn.MValuesPerSecond(summary, benchmarkCase) is not { } mValues)
        {
            return "-";
        }

        return (mValues * QuantFormat.Get(type).BitsPerWeight / 8 / 1000).ToString("0.0", style.CultureInfo);
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public override string ToString() => ColumnName;
}
