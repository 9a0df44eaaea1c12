using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Oracle;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Weight quantization of the whole matrix: ours (<see cref="Quantizer.Quantize"/>) against ggml's
/// <c>ggml_quantize_chunk</c> (what llama-quantize calls), both single-threaded, on the same aligned source.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public abstract unsafe class QuantizeBenchmarkBase
{
    private delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint> _quantizeChunk;
    private float* _source;
    private float* _importance;
    private byte* _ggml;
    private byte* _ours;
    private int _bytes;

    /// <summary>The format quantized to.</summary>
    public abstract QuantType Type { get; set; }

    /// <summary>Whether an imatrix-style importance vector is passed (the legacy 4/5-bit quantizers use it).</summary>
    protected abstract bool WithImportance { get; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        _bytes = checked((int)Quantizer.GetByteCount(Type, Values));
        _source = Copy<float>(Matrix());
        _importance = WithImportance ? Copy<float>(Importance()) : null;
        _ggml = Alloc<byte>(_bytes, OutputOffset);
        _ours = Alloc<byte>(_bytes, OutputOffset);
        ((delegate* unmanaged<int, void>)GgmlNative.BaseExport("ggml_quantize_init"))((int)Type);
        _quantizeChunk = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)GgmlNative.BaseExport("ggml_quantize_chunk");

        Ggml();
        Ours();
        RequireIdentical(new ReadOnlySpan<byte>(_ggml, _bytes), new ReadOnlySpan<byte>(_ours, _bytes),
                         $"quantize {Type}{(WithImportance ? " with importance" : "")}");
        RequireNoAllocation(Ours, $"quantize {Type}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_source);
        Free(_importance);
        Free(_ggml);
        Free(_ours);
        _source = _importance = null;
        _ggml = _ours = null;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Values)]
    [BenchmarkCategory("Quantize")]
    public nuint Ggml() => _quantizeChunk((int)Type, _source, _ggml, 0, Rows, Columns, _importance);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("Quantize")]
    public void Ours() =>
        Quantizer.Quantize(Type, new ReadOnlySpan<float>(_source, Values), new Span<byte>(_ours, _bytes), Columns,
                           _importance == null ? default : new ReadOnlySpan<float>(_importance, Columns));
}

/// <summary>Every implemented weight format, without importance.</summary>
public class QuantizeBenchmarks : QuantizeBenchmarkBase
{
    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.GgmlWeights;

    [ParamsSource(nameof(TypeValues))]
    public override QuantType Type { get; set; }

    protected override bool WithImportance => false;
}

/// <summary>The quantizers that take an imatrix-style importance vector (a different search in ggml and here).</summary>
public class QuantizeWithImportanceBenchmarks : QuantizeBenchmarkBase
{
    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.GgmlWeightsWithImportance;

    [ParamsSource(nameof(TypeValues))]
    public override QuantType Type { get; set; }

    protected override bool WithImportance => true;
}
