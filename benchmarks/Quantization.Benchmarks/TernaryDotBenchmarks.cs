using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Ternary × Q8_K dot products over a 4096 × 4096 weight matrix and one activation row, one thread: ours
/// (<see cref="TQ2_0Dot"/>, <see cref="TQ1_0Dot"/>) against ggml's <c>ggml_vec_dot_tq*_q8_K</c> row by row.
/// One operation is one weight value; weight bytes per second = values per second · block bytes / 256.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class TernaryDotBenchmarks
{
    private const int MatrixRows = 4096;
    private const int N = 4096;

    private delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> _ggml;
    private DotFn _dot = null!;
    private byte* _weights;
    private byte* _activations;
    private float* _ggmlOut;
    private float* _oursOut;
    private int _rowBytes;
    private int _activationBytes;

    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.TernaryDots;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        _rowBytes = checked((int)Quantizer.GetByteCount(Type, N));
        _dot = DotRegistry.TryGet(Type)!.Dot;
        _activationBytes = checked((int)Quantizer.GetByteCount(QuantType.Q8_K, N));
        float[] row = Matrix();
        var source = new float[N * 64];
        _weights = Alloc<byte>((long)_rowBytes * MatrixRows);
        var quantized = new byte[_rowBytes * 64];
        for (int r = 0; r < MatrixRows; r += 64)
        {
            // 64-row slabs of the shared matrix, each scaled differently so rows are not repeats.
            float scale = 1f + r / 64 * 0.01f;
            for (int i = 0; i < source.Length; i++)
            {
                source[i] = row[i] * scale;
            }

            Quantizer.Quantize(Type, source, quantized, N);
            quantized.CopyTo(new Span<byte>(_weights + (long)r * _rowBytes, quantized.Length));
        }

        _activations = Alloc<byte>(_activationBytes);
        Quantizer.Quantize(QuantType.Q8_K, row.AsSpan(N, N), new Span<byte>(_activations, _activationBytes), N);
        _ggmlOut = Alloc<float>(MatrixRows, OutputOffset);
        _oursOut = Alloc<float>(MatrixRows, OutputOffset);
        _ggml = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(
            "ggml_vec_dot_" + GgmlName(Type) + "_q8_K");

        Ggml();
        Ours();
        for (int r = 0; r < MatrixRows; r++)
        {
            float g = _ggmlOut[r], o = _oursOut[r];
            if (Math.Abs(g - o) > 1e-4f * Math.Max(1f, Math.Abs(g)))
            {
                throw new InvalidOperationException($"{Type} row {r}: ggml {g}, ours {o}");
            }
        }

        RequireNoAllocation(Ours, $"dot {Type}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_weights);
        Free(_activations);
        Free(_ggmlOut);
        Free(_oursOut);
        _weights = _activations = null;
        _ggmlOut = _oursOut = null;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = MatrixRows * N)]
    [BenchmarkCategory("TernaryDot")]
    public void Ggml()
    {
        for (int r = 0; r < MatrixRows; r++)
        {
            _ggml(N, _ggmlOut + r, 0, _weights + (long)r * _rowBytes, 0, _activations, 0, 1);
        }
    }

    [Benchmark(OperationsPerInvoke = MatrixRows * N)]
    [BenchmarkCategory("TernaryDot")]
    public void Ours()
    {
        DotFn dot = _dot;
        var activations = new ReadOnlySpan<byte>(_activations, _activationBytes);
        for (int r = 0; r < MatrixRows; r++)
        {
            _oursOut[r] = dot(new ReadOnlySpan<byte>(_weights + (long)r * _rowBytes, _rowBytes), activations, N);
        }
    }
}
