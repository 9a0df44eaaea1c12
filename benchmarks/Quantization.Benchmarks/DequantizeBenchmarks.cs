using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Oracle;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Dequantization of the whole matrix: ours (<see cref="Quantizer.Dequantize"/>) against ggml-base's
/// <c>dequantize_row_*</c> / <c>ggml_fp16_to_fp32_row</c> / <c>ggml_bf16_to_fp32_row</c>, on the same blocks.
/// Q8_1 is absent: ggml has no Q8_1 dequantizer.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class DequantizeBenchmarks
{
    private delegate* unmanaged<void*, float*, long, void> _dequantize;
    private byte* _blocks;
    private float* _ggml;
    private float* _ours;
    private int _bytes;

    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.GgmlDequantizers;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        _bytes = checked((int)Quantizer.GetByteCount(Type, Values));
        _blocks = Alloc<byte>(_bytes);
        Quantizer.Quantize(Type, Matrix(), new Span<byte>(_blocks, _bytes), Columns, RequiredImportance(Type, Columns));
        _ggml = Alloc<float>(Values, OutputOffset);
        _ours = Alloc<float>(Values, OutputOffset);
        string symbol = Type switch
        {
            QuantType.F16 => "ggml_fp16_to_fp32_row",
            QuantType.BF16 => "ggml_bf16_to_fp32_row",
            _ => "dequantize_row_" + GgmlName(Type),
        };
        _dequantize = (delegate* unmanaged<void*, float*, long, void>)GgmlNative.BaseExport(symbol);

        Ggml();
        Ours();
        RequireIdentical(new ReadOnlySpan<byte>(_ggml, Values * sizeof(float)), new ReadOnlySpan<byte>(_ours, Values * sizeof(float)),
                         $"dequantize {Type} ({symbol})");
        RequireNoAllocation(Ours, $"dequantize {Type}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_blocks);
        Free(_ggml);
        Free(_ours);
        _blocks = null;
        _ggml = _ours = null;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Values)]
    [BenchmarkCategory("Dequantize")]
    public void Ggml() => _dequantize(_blocks, _ggml, Values);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("Dequantize")]
    public void Ours() => Quantizer.Dequantize(Type, new ReadOnlySpan<byte>(_blocks, _bytes), new Span<float>(_ours, Values));
}
