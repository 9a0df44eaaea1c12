using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Support;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Matrix × vector through the fused K-quant / IQ4_XS × Q8_K dot products, one thread: a 4096 × 4096 weight matrix,
/// one Q8_K activation row, one dot per weight row. Ours (<c>&lt;Type&gt;Dot.Dot</c>) against ggml-cpu's
/// <c>ggml_vec_dot_&lt;type&gt;_q8_K</c> called the same way (nrc = 1). Throughput in GB/s of weight bytes is
/// <c>M values/s × bytes per value / 1000</c> (Q4_K: 0.5625 B/value, Q6_K 0.8203, Q5_K 0.6875, Q3_K 0.4297,
/// Q2_K 0.3281, IQ4_XS 0.53125).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class KQuantDotBenchmarks
{
    /// <summary>Rows and columns of the weight matrix.</summary>
    public const int Size = 4096;

    private const int MatrixValues = Size * Size;

    private delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> _vecDot;
    private DotFn _dot = null!;
    private byte* _weights;
    private byte* _activations;
    private int _rowBytes;
    private float* _ggml;
    private float* _ours;

    public static IEnumerable<QuantType> TypeValues => BenchmarkTypes.SuperBlockDots;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        _rowBytes = checked((int)Quantizer.GetByteCount(Type, Size));
        _dot = DotRegistry.TryGet(Type)!.Dot;
        float[] matrix = TestData.TransformerLike(0x5EED_D07, MatrixValues);
        _weights = Alloc<byte>((long)_rowBytes * Size);
        Quantizer.QuantizeParallel(Type, matrix, new Span<byte>(_weights, _rowBytes * Size), Size, BenchmarkData.RequiredImportance(Type, Size));
        float[] x = TestData.Gaussian(0xAC71, Size, 1.0);
        int activationBytes = checked((int)Quantizer.GetByteCount(QuantType.Q8_K, Size));
        _activations = Alloc<byte>(activationBytes);
        Quantizer.Quantize(QuantType.Q8_K, x, new Span<byte>(_activations, activationBytes), Size);
        _vecDot = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)
            GgmlNative.CpuExport($"ggml_vec_dot_{GgmlName(Type)}_q8_K");
        _ggml = Alloc<float>(Size, OutputOffset);
        _ours = Alloc<float>(Size, OutputOffset);

        Ggml();
        Ours();
        // Single rows can cancel to near zero, so differences are measured against the largest |result| of the matrix.
        double worst = 0, scale = 1e-30;
        for (int r = 0; r < Size; r++)
        {
            worst = Math.Max(worst, Math.Abs(_ggml[r] - _ours[r]));
            scale = Math.Max(scale, Math.Abs(_ggml[r]));
        }

        Console.WriteLine($"// sanity: {Type} dot vs ggml: largest difference over {Size} rows {worst / scale:E2} of the largest result");
        if (worst > 1e-4 * scale)
        {
            throw new InvalidOperationException($"{Type}: ours differs from ggml by {worst / scale:E2} of the largest result; the benchmark would compare different work.");
        }

        RequireNoAllocation(Ours, $"dot {Type}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Free(_weights);
        Free(_activations);
        Free(_ggml);
        Free(_ours);
        _weights = _activations = null;
        _ggml = _ours = null;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = MatrixValues)]
    [BenchmarkCategory("DotQ8_K")]
    public void Ggml()
    {
        for (int r = 0; r < Size; r++)
        {
            _vecDot(Size, _ggml + r, 0, _weights + (long)r * _rowBytes, 0, _activations, 0, 1);
        }
    }

    [Benchmark(OperationsPerInvoke = MatrixValues)]
    [BenchmarkCategory("DotQ8_K")]
    public void Ours()
    {
        DotFn dot = _dot;
        var activations = new ReadOnlySpan<byte>(_activations, BlockQ8_K.Size * (Size / 256));
        for (int r = 0; r < Size; r++)
        {
            _ours[r] = dot(new ReadOnlySpan<byte>(_weights + (long)r * _rowBytes, _rowBytes), activations, Size);
        }
    }

}
