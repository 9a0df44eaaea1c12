using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Kernels;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// NF4 / FP4 (bitsandbytes' 4-bit formats; ggml has no counterpart): the vector kernels behind <see cref="Quantizer"/>
/// against the scalar reference they must equal, on the benchmark matrix. Bytes per value: 4 in and 0.5625 out when
/// quantizing, the reverse when dequantizing, so GB/s = (M values/s) · 4.5625 / 1000.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FourBitBenchmarks
{
    private float[] _source = [];
    private byte[] _blocks = [];
    private byte[] _reference = [];
    private float[] _values = [];
    private KernelEntry _kernel = null!;

    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.FourBitDots;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _kernel = KernelRegistry.TryGet(Type)!;
        _source = Matrix();
        _blocks = new byte[Quantizer.GetByteCount(Type, Values)];
        _reference = new byte[_blocks.Length];
        _values = new float[Values];
        QuantizeOurs();
        QuantizeReference();
        RequireIdentical(_reference, _blocks, $"quantize {Type}: reference vs vector");
        RequireNoAllocation(QuantizeOurs, $"quantize {Type}");
        RequireNoAllocation(DequantizeOurs, $"dequantize {Type}");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Values)]
    [BenchmarkCategory("FourBitQuantize")]
    public void QuantizeReference() => _kernel.QuantizeReference!(_source, _reference, default);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("FourBitQuantize")]
    public void QuantizeOurs() => Quantizer.Quantize(Type, _source, _blocks, Columns);

    [Benchmark(Baseline = true, OperationsPerInvoke = Values)]
    [BenchmarkCategory("FourBitDequantize")]
    public void DequantizeReference() => _kernel.DequantizeReference!(_blocks, _values);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("FourBitDequantize")]
    public void DequantizeOurs() => Quantizer.Dequantize(Type, _blocks, _values);
}
