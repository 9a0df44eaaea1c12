using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Quantization.Kernels;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Support;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Single-thread matrix-vector product over quantized weights: ours (<see cref="QuantizedMath.MatVec"/>, which also
/// quantizes x to the activation format every call) against a loop of ggml's <c>ggml_vec_dot_&lt;w&gt;_&lt;a&gt;</c> over the
/// same weight bytes and the same activation bytes (quantized once in the setup, so ggml's side does strictly less
/// work). Throughput is reported per weight value (M values/s) and as GB/s of weight bytes.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public abstract unsafe class MatVecBenchmarks
{
    private delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> _vecDot;
    private byte* _weights;
    private byte* _activations;
    private float* _x;
    private float* _ggml;
    private float* _ours;
    private int _rowBytes;
    private int _weightBytes;

    /// <summary>Weight rows (outputs).</summary>
    protected abstract int MatrixRows { get; }

    /// <summary>Values per weight row.</summary>
    public const int MatrixColumns = 4096;

    [Params(QuantType.Q4_0, QuantType.Q4_1, QuantType.Q5_0, QuantType.Q5_1, QuantType.Q8_0, QuantType.IQ4_NL,
            QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K, QuantType.IQ4_XS,
            QuantType.TQ1_0, QuantType.TQ2_0)]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        DotEntry dot = DotRegistry.TryGet(Type) ?? throw new InvalidOperationException($"{Type} has no integer dot kernel.");
        QuantFormat f = QuantFormat.Get(Type);
        _rowBytes = MatrixColumns / f.BlockSize * f.BytesPerBlock;
        _weightBytes = checked(_rowBytes * MatrixRows);
        _weights = Alloc<byte>(_weightBytes);
        float[] row = TestData.TransformerLike(0x5EED_BE4C, MatrixColumns * 64);
        var quantized = new byte[_rowBytes * 64];
        Quantizer.Quantize(Type, row, quantized, MatrixColumns);
        for (int r = 0; r < MatrixRows; r += 64)
        {
            // 64 distinct rows repeated: the same bytes to both sides, without a minutes-long setup.
            quantized.CopyTo(new Span<byte>(_weights + (long)r * _rowBytes, quantized.Length));
        }

        float[] x = TestData.Gaussian(0xAC71, MatrixColumns, 1);
        _x = Copy<float>(x);
        int actBytes = MatrixColumns / dot.ActivationFormat.BlockSize * dot.ActivationFormat.BytesPerBlock;
        _activations = Alloc<byte>(actBytes);
        KernelRegistry.TryGet(dot.ActivationType)!.Quantize!(x, new Span<byte>(_activations, actBytes), default);
        _ggml = Alloc<float>(MatrixRows, OutputOffset);
        _ours = Alloc<float>(MatrixRows, OutputOffset);
        string name = $"ggml_vec_dot_{GgmlName(Type)}_{GgmlName(dot.ActivationType)}";
        _vecDot = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(name);

        RunGgml();
        RunOurs();
        double maxDiff = 0, maxAbs = 0;
        for (int r = 0; r < MatrixRows; r++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(_ggml[r] - _ours[r]));
            maxAbs = Math.Max(maxAbs, Math.Abs(_ggml[r]));
        }

        if (maxDiff > 1e-4 * maxAbs)
        {
            throw new InvalidOperationException($"{Type}: ours differs from {name} by {maxDiff} (max |y| {maxAbs}); the benchmark would compare different work.");
        }

        Console.WriteLine($"// sanity: {Type} {MatrixRows}x{MatrixColumns}: ours agrees with {name} (max |diff| {maxDiff:E2}, max |y| {maxAbs:E2})");
        RequireNoAllocation(RunOurs, $"MatVec {Type}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_weights);
        Free(_activations);
        Free(_x);
        Free(_ggml);
        Free(_ours);
        _weights = _activations = null;
        _x = _ggml = _ours = null;
    }

    protected void RunGgml()
    {
        for (int r = 0; r < MatrixRows; r++)
        {
            _vecDot(MatrixColumns, _ggml + r, 0, _weights + (long)r * _rowBytes, 0, _activations, 0, 1);
        }
    }

    protected void RunOurs() =>
        QuantizedMath.MatVec(Type, new ReadOnlySpan<byte>(_weights, _weightBytes), MatrixRows, MatrixColumns,
                             new ReadOnlySpan<float>(_x, MatrixColumns), new Span<float>(_ours, MatrixRows));
}

/// <summary><see cref="MatVecBenchmarks"/> on 4096 × 4096 weights (L3-resident for most formats).</summary>
public class MatVec4096x4096Benchmarks : MatVecBenchmarks
{
    private const int Rows = 4096;

    protected override int MatrixRows => Rows;

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec4096x4096")]
    public void Ggml() => RunGgml();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec4096x4096")]
    public void Ours() => RunOurs();
}

/// <summary><see cref="MatVecBenchmarks"/> on 16384 × 4096 weights (beyond the last-level cache: streamed from DRAM).</summary>
public class MatVec16384x4096Benchmarks : MatVecBenchmarks
{
    private const int Rows = 16384;

    protected override int MatrixRows => Rows;

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096")]
    public void Ggml() => RunGgml();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096")]
    public void Ours() => RunOurs();
}

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
