using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Oracle;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Activation quantizers (the Q8 formats dot products take): ours against ggml-base's reference
/// <c>quantize_row_*_ref</c> (the baseline, byte-identical to ours) and the CPU backend's SIMD <c>quantize_row_*</c>
/// that llama.cpp runs at inference time. The SIMD rows round exact .5 ties differently (docs/formats.md#q8_0-activations), so they may
/// differ from ours in a few bytes: the same work, not the same bytes; the setup prints how many differ.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class ActivationQuantizeBenchmarks
{
    private delegate* unmanaged<float*, void*, long, void> _ref;
    private delegate* unmanaged<float*, void*, long, void> _cpu;
    private float* _source;
    private byte* _ggml;
    private byte* _ggmlCpu;
    private byte* _ours;
    private int _bytes;

    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.GgmlActivations;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        _bytes = checked((int)Quantizer.GetByteCount(Type, Values));
        _source = Copy<float>(Matrix());
        _ggml = Alloc<byte>(_bytes, OutputOffset);
        _ggmlCpu = Alloc<byte>(_bytes, OutputOffset);
        _ours = Alloc<byte>(_bytes, OutputOffset);
        string name = GgmlName(Type);
        _ref = (delegate* unmanaged<float*, void*, long, void>)GgmlNative.BaseExport("quantize_row_" + name + "_ref");
        _cpu = (delegate* unmanaged<float*, void*, long, void>)GgmlNative.CpuExport("quantize_row_" + name);

        GgmlRef();
        GgmlCpu();
        Ours();
        RequireIdentical(new ReadOnlySpan<byte>(_ggml, _bytes), new ReadOnlySpan<byte>(_ours, _bytes), $"quantize_row_{name}_ref vs ours");
        RequireNoAllocation(Ours, $"quantize {Type}");
        int diff = CountDifferences(new ReadOnlySpan<byte>(_ggmlCpu, _bytes), new ReadOnlySpan<byte>(_ours, _bytes));
        Console.WriteLine($"// note: ggml CPU backend quantize_row_{name} differs from the reference bytes in {diff} of {_bytes} bytes");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_source);
        Free(_ggml);
        Free(_ggmlCpu);
        Free(_ours);
        _source = null;
        _ggml = _ggmlCpu = _ours = null;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Values)]
    [BenchmarkCategory("ActivationQuantize")]
    public void GgmlRef() => _ref(_source, _ggml, Values);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("ActivationQuantize")]
    public void GgmlCpu() => _cpu(_source, _ggmlCpu, Values);

    [Benchmark(OperationsPerInvoke = Values)]
    [BenchmarkCategory("ActivationQuantize")]
    public void Ours() => Quantizer.Quantize(Type, new ReadOnlySpan<float>(_source, Values), new Span<byte>(_ours, _bytes), Columns);
}
