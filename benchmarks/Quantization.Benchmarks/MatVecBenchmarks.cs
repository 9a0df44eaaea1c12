using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using CommunityToolkit.HighPerformance.Helpers;
using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Support;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// Matrix-vector products over quantized weights, one thread unless a method says otherwise. Ours is
/// <see cref="QuantizedMath.MatVec"/>, which quantizes x to the activation format inside every call. Baselines over the
/// same weight bytes:
/// <list type="bullet">
/// <item><c>Ggml</c>: a loop of ggml's <c>ggml_vec_dot_&lt;w&gt;_&lt;a&gt;</c> (nrc = 1), activations quantized once in the
/// setup (so it does strictly less work than ours).</item>
/// <item><c>GgmlGraph</c> (the types of <see cref="GraphTypes"/>): llama.cpp's decode path, <c>ggml_mul_mat</c> computed by
/// the CPU backend with the weights in the CPU_REPACK buffer where ggml repacks the type on this CPU (else a plain CPU
/// buffer; <see cref="GgmlMulMatGraph"/>). The graph is built in the setup; each call quantizes x and multiplies, as ours.</item>
/// <item><c>OursFloat</c>, only for formats ggml does not have (NF4, FP4, I2_S): our float path
/// (<see cref="QuantizedMath.MatVecAccurate"/>, dequantize and multiply in float) is their baseline.</item>
/// </list>
/// Adding a format is one entry in the [Params] list; <see cref="IsApplicable"/> drops the baselines it has none of.
/// Throughput is reported per weight value (M values/s) and as GB/s of weight bytes.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public abstract unsafe class MatVecBenchmarks
{
    private delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> _vecDot;
    private byte* _weights;
    private byte* _activations;
    private byte* _readBuffer;
    private float* _x;
    private float* _ggml;
    private float* _ours;
    private float* _graphOut;
    private int _rowBytes;
    private int _weightBytes;
    private int _readBytes;
    private ulong _readSum;
    private string? _vecDotName;
    private GgmlMulMatGraph? _graph;

    /// <summary>Values per weight row.</summary>
    public const int MatrixColumns = 4096;

    /// <summary>Weight rows (outputs); a multiple of 64.</summary>
    protected abstract int MatrixRows { get; }

    /// <summary>Whether the setup builds ggml's mul_mat graph (classes with a <c>GgmlGraph</c> method, types of <see cref="GraphTypes"/>).</summary>
    protected virtual bool UsesGraph => false;

    /// <summary>Whether the setup ends by warming our sides up to optimized code (not for the smoke run).</summary>
    protected virtual bool WarmsUp => true;

    /// <summary>Whether the setup allocates the read-bandwidth buffer (classes with <c>Read*</c> methods).</summary>
    protected virtual bool UsesReadBuffer => false;

    /// <summary>
    /// The types with a <c>GgmlGraph</c> baseline: those llama.cpp repacks on x86 AVX2 / AVX-512 or arm64 (CPU_REPACK).
    /// Where the loaded build does not repack one (q2_K without AVX-512), its graph runs from a plain CPU buffer. Adding a
    /// type here adds its plain graph path.
    /// </summary>
    public static readonly QuantType[] GraphTypes = [QuantType.Q4_0, QuantType.Q4_K, QuantType.IQ4_NL, QuantType.Q2_K]; // ggml-fact: its CPU_REPACK set

    /// <summary>
    /// The formats of the MatVec benchmarks: adding one here adds it to every size and to <c>--paired</c>. A format ggml does
    /// not have (NF4, FP4, I2_S) is measured against our float path instead of ggml (<see cref="IsApplicable"/>).
    /// </summary>
    public static QuantType[] Formats => BenchmarkTypes.Dots;

    /// <summary>The [Params] values of <see cref="Type"/>: <see cref="Formats"/> unless a class narrows them.</summary>
    public virtual IEnumerable<QuantType> TypeValues => Formats;

    [ParamsSource(nameof(TypeValues))]
    public QuantType Type { get; set; }

    /// <summary>ggml's layout of the graph's weights ("q4_0_8x8", "plain"), or null without a graph.</summary>
    public string? GraphLayout => _graph?.Layout;

    /// <summary>Weight bytes of the matrix (the read kernels read as many).</summary>
    public long WeightBytes => _weightBytes;

    /// <summary>Whether ggml has <paramref name="type"/> (a vec_dot and a graph baseline are possible).</summary>
    public static bool HasGgmlCounterpart(QuantType type) => QuantFormat.Get(type).IsGgmlType;

    /// <summary>Whether a benchmark method applies to a type: the filter that drops baselines a format has none of.</summary>
    public static bool IsApplicable(string method, QuantType type) => method switch
    {
        "Ggml" => HasGgmlCounterpart(type),
        "GgmlGraph" => HasGgmlCounterpart(type) && GraphTypes.Contains(type),
        "OursFloat" => !HasGgmlCounterpart(type),
        _ => true,
    };

    /// <summary>BenchmarkDotNet filter form of <see cref="IsApplicable"/>.</summary>
    public static bool IsApplicable(BenchmarkCase benchmarkCase) =>
        !typeof(MatVecBenchmarks).IsAssignableFrom(benchmarkCase.Descriptor.Type)
        || benchmarkCase.Parameters["Type"] is not QuantType type
        || IsApplicable(benchmarkCase.Descriptor.WorkloadMethod.Name, type);

    [GlobalSetup]
    public void Setup()
    {
        RequireGgml();
        QuantFormat f = QuantFormat.Get(Type);
        _rowBytes = MatrixColumns / f.BlockSize * f.BytesPerBlock;
        float[] sample = TestData.TransformerLike(0x5EED_BE4C, MatrixColumns * 64);
        byte[] quantized = new byte[checked((int)Quantizer.GetByteCount(Type, sample.Length))];
        Quantizer.Quantize(Type, sample, quantized, MatrixColumns, BenchmarkData.RequiredImportance(Type, MatrixColumns));
        // 64 distinct rows repeated: the same bytes to every side, without a minutes-long setup. A per-tensor trailer
        // (I2_S's scale) follows the last row once; the repeated rows keep it valid.
        int sampleBytes = _rowBytes * 64;
        _weightBytes = checked(_rowBytes * MatrixRows + f.TrailerBytes);
        _weights = Alloc<byte>(_weightBytes);
        for (int r = 0; r < MatrixRows; r += 64)
        {
            quantized.AsSpan(0, sampleBytes).CopyTo(new Span<byte>(_weights + (long)r * _rowBytes, sampleBytes));
        }

        quantized.AsSpan(sampleBytes).CopyTo(new Span<byte>(_weights + (long)_rowBytes * MatrixRows, f.TrailerBytes));

        float[] x = TestData.Gaussian(0xAC71, MatrixColumns, 1);
        _x = Copy<float>(x);
        _ggml = Alloc<float>(MatrixRows, OutputOffset);
        _ours = Alloc<float>(MatrixRows, OutputOffset);
        if (HasGgmlCounterpart(Type))
        {
            SetupVecDot(x);
        }

        if (UsesGraph && IsApplicable("GgmlGraph", Type))
        {
            SetupGraph(x);
        }

        if (UsesReadBuffer)
        {
            // As many bytes as the weights, down to a whole number of 256-byte steps (under 256 bytes less).
            _readBytes = _weightBytes / 256 * 256;
            _readBuffer = Alloc<byte>(_readBytes);
            new Random(0x5EAD).NextBytes(new Span<byte>(_readBuffer, _readBytes));
            for (long i = 0; i < _readBytes; i += 8)
            {
                _readSum += *(ulong*)(_readBuffer + i);
            }
        }

        Verify();
        RequireNoAllocation(RunOurs, $"MatVec {Type}");
        if (WarmsUp)
        {
            WarmUp();
        }
    }

    /// <summary>
    /// Calls our sides until tiered compilation has reached optimized code (at least 60 calls and 0.5 s, as the paired
    /// runner does): the cold classes time one call per iteration, too few for BenchmarkDotNet's warm-up to get there.
    /// </summary>
    private void WarmUp()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 60 || sw.Elapsed.TotalSeconds < 0.5; i++)
        {
            RunOurs();
            if (_readBuffer is not null)
            {
                RunOursTwoThreads();
                ReadOneThread();
                ReadTwoThreads();
            }

            if (i >= 3 && sw.Elapsed.TotalSeconds > 3)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Runs every side this instance has and throws unless they agree: ours against ggml's vec_dot (or, for a format ggml
    /// does not have, against our float path), against ggml's graph, two threads against one, and the read kernels against
    /// a scalar sum. The setup calls it (a benchmark never measures a wrong setup); <c>--smoke</c> again after timing.
    /// </summary>
    public void Verify()
    {
        RunOurs();
        if (HasGgmlCounterpart(Type))
        {
            RunGgml();
            // ggml's BF16 / F16 vec_dot rounds x to 8 / 11 significant bits (ours keeps it in float): a looser bound there.
            Require(_ggml, _ours, DotRegistry.TryGet(Type)!.IsInteger || Type == QuantType.F32 ? 1e-4 : 1e-2, _vecDotName!, "ours");
        }
        else
        {
            RunOursFloat();
            // Ours quantizes x (8-bit); the float path does not: a loose bound, enough to catch a wrong setup.
            Require(_ggml, _ours, 5e-2, "our float path (MatVecAccurate)", "the integer path");
        }

        if (_graph is not null)
        {
            new Span<float>(_graphOut, MatrixRows).Clear();
            _graph.Compute();
            _graph.GetOutput(new Span<float>(_graphOut, MatrixRows));
            // ggml quantizes x with its SIMD quantize_row (.5 ties round differently from ours, docs/formats.md#q8_0-activations) and sums
            // in another order: equal within float tolerance, not bit for bit.
            Require(_graphOut, _ours, 1e-3, $"ggml mul_mat graph ({_graph.Layout})", "ours");
        }

        if (_readBuffer is not null)
        {
            if (ReadOneThread() != _readSum || ReadTwoThreads() != _readSum)
            {
                throw new InvalidOperationException("The read-bandwidth kernels do not read the whole buffer.");
            }

            var one = new Span<float>(_ours, MatrixRows).ToArray();
            new Span<float>(_ours, MatrixRows).Clear();
            RunOursTwoThreads();
            if (!one.AsSpan().SequenceEqual(new Span<float>(_ours, MatrixRows)))
            {
                throw new InvalidOperationException($"{Type}: MatVec on 2 threads differs from 1 thread.");
            }

            Console.WriteLine($"// sanity: {Type} {MatrixRows}x{MatrixColumns}: 2-thread MatVec equals 1 thread; read kernels sum all {_readBytes} bytes");
        }
    }

    private void SetupVecDot(float[] x)
    {
        DotEntry dot = DotRegistry.TryGet(Type)
            ?? throw new InvalidOperationException($"{Type} has no dot kernel to compare with ggml's vec_dot.");
        // ggml's float vec_dots (ggml_vec_dot_f32 / _f16 / _bf16) take x in the weights' own type (its vec_dot_type),
        // converted here once, outside the timed region, as the quantized activations of the other formats are; ours
        // keeps x in float.
        QuantType activationType = dot.IsInteger ? dot.ActivationType : Type;
        QuantFormat a = QuantFormat.Get(activationType);
        int actBytes = MatrixColumns / a.BlockSize * a.BytesPerBlock;
        _activations = Alloc<byte>(actBytes);
        KernelRegistry.TryGet(activationType)!.Quantize!(x, new Span<byte>(_activations, actBytes), default);
        string name = dot.IsInteger ? $"ggml_vec_dot_{GgmlName(Type)}_{GgmlName(activationType)}" : $"ggml_vec_dot_{GgmlName(Type)}";
        _vecDot = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(name);
        _vecDotName = name;
    }

    private void SetupGraph(float[] x)
    {
        var weights = new ReadOnlySpan<byte>(_weights, _weightBytes);
        _graph = GgmlMulMatGraph.TryCreate(Type, weights, MatrixRows, MatrixColumns, repack: true)
                 ?? GgmlMulMatGraph.TryCreate(Type, weights, MatrixRows, MatrixColumns, repack: false)
                 ?? throw new InvalidOperationException($"{Type}: ggml's mul_mat graph could not be built.");
        _graph.SetInput(x);
        _graphOut = Alloc<float>(MatrixRows, OutputOffset);
    }

    /// <summary>Throws unless <paramref name="theirs"/> equals <paramref name="ours"/> within <paramref name="tolerance"/> × max |y|.</summary>
    private void Require(float* theirs, float* ours, double tolerance, string theirName, string ourName)
    {
        // Single rows can cancel to near zero, so differences are measured against the largest |result| of the matrix.
        double maxDiff = 0, maxAbs = 1e-30;
        for (int r = 0; r < MatrixRows; r++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(theirs[r] - ours[r]));
            maxAbs = Math.Max(maxAbs, Math.Abs(theirs[r]));
        }

        if (!(maxDiff <= tolerance * maxAbs))
        {
            throw new InvalidOperationException($"{Type}: {ourName} differs from {theirName} by {maxDiff} (max |y| {maxAbs}); the benchmark would compare different work.");
        }

        Console.WriteLine($"// sanity: {Type} {MatrixRows}x{MatrixColumns}: {ourName} agrees with {theirName} (max |diff| {maxDiff:E2}, max |y| {maxAbs:E2})");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _graph?.Dispose();
        _graph = null;
        Free(_weights);
        Free(_activations);
        Free(_readBuffer);
        Free(_x);
        Free(_ggml);
        Free(_ours);
        Free(_graphOut);
        _weights = _activations = _readBuffer = null;
        _readSum = 0;
        _x = _ggml = _ours = _graphOut = null;
    }

    /// <summary>ggml's vec_dot over every row, activations quantized in the setup.</summary>
    protected void RunGgml()
    {
        for (int r = 0; r < MatrixRows; r++)
        {
            _vecDot(MatrixColumns, _ggml + r, 0, _weights + (long)r * _rowBytes, 0, _activations, 0, 1);
        }
    }

    /// <summary>ggml's mul_mat graph (quantizes x, multiplies); built in the setup.</summary>
    protected void RunGgmlGraph() => _graph!.Compute();

    protected void RunOurs() =>
        QuantizedMath.MatVec(Type, new ReadOnlySpan<byte>(_weights, _weightBytes), MatrixRows, MatrixColumns,
                             new ReadOnlySpan<float>(_x, MatrixColumns), new Span<float>(_ours, MatrixRows), maxDegreeOfParallelism: 1);

    protected void RunOursTwoThreads() =>
        QuantizedMath.MatVec(Type, new ReadOnlySpan<byte>(_weights, _weightBytes), MatrixRows, MatrixColumns,
                             new ReadOnlySpan<float>(_x, MatrixColumns), new Span<float>(_ours, MatrixRows), maxDegreeOfParallelism: 2);

    /// <summary>The float path (dequantize block by block, multiply in float); writes the vec_dot buffer.</summary>
    protected void RunOursFloat() =>
        QuantizedMath.MatVecAccurate(Type, new ReadOnlySpan<byte>(_weights, _weightBytes), MatrixRows, MatrixColumns,
                                     new ReadOnlySpan<float>(_x, MatrixColumns), new Span<float>(_ggml, MatrixRows), maxDegreeOfParallelism: 1);

    /// <summary>Reads every byte of a buffer as large as the weights, one thread.</summary>
    protected ulong ReadOneThread() => ReadSum(_readBuffer, _readBytes);

    /// <summary>Reads every byte of a buffer as large as the weights, two halves on two threads (the MatVec split).</summary>
    protected ulong ReadTwoThreads()
    {
        var halves = new ReadHalves(_readBuffer, _readBytes, _halfSums);
        ParallelHelper.For(0, 2, in halves, minimumActionsPerThread: 1);
        return halves.Sum;
    }

    private readonly ulong[] _halfSums = new ulong[2 * 16]; // the two threads' sums, 128 bytes apart

    private readonly struct ReadHalves(byte* buffer, long length, ulong[] sums) : IAction
    {
        public ulong Sum => sums[0] + sums[16];

        public void Invoke(int part)
        {
            long half = length / 2 / 256 * 256;
            long start = part == 0 ? 0 : half;
            long end = part == 0 ? half : length;
            sums[part * 16] = ReadSum(buffer + start, end - start);
        }
    }

    /// <summary>
    /// The wrapping sum of the 64-bit words of <paramref name="length"/> bytes (a multiple of 256): one load and one add
    /// per vector, four independent accumulators, the widest vector the runtime accelerates. A STREAM-like read kernel:
    /// what the cores can pull from memory with no other work.
    /// </summary>
    internal static ulong ReadSum(byte* p, long length)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (long i = 0; i < length; i += 256)
            {
                a0 += Vector512.Load((ulong*)(p + i));
                a1 += Vector512.Load((ulong*)(p + i + 64));
                a2 += Vector512.Load((ulong*)(p + i + 128));
                a3 += Vector512.Load((ulong*)(p + i + 192));
            }

            return Vector512.Sum((a0 + a1) + (a2 + a3));
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> a0 = default, a1 = default, a2 = default, a3 = default;
            for (long i = 0; i < length; i += 128)
            {
                a0 += Vector256.Load((ulong*)(p + i));
                a1 += Vector256.Load((ulong*)(p + i + 32));
                a2 += Vector256.Load((ulong*)(p + i + 64));
                a3 += Vector256.Load((ulong*)(p + i + 96));
            }

            return Vector256.Sum((a0 + a1) + (a2 + a3));
        }

        Vector128<ulong> b0 = default, b1 = default, b2 = default, b3 = default;
        for (long i = 0; i < length; i += 64)
        {
            b0 += Vector128.Load((ulong*)(p + i));
            b1 += Vector128.Load((ulong*)(p + i + 16));
            b2 += Vector128.Load((ulong*)(p + i + 32));
            b3 += Vector128.Load((ulong*)(p + i + 48));
        }

        return Vector128.Sum((b0 + b1) + (b2 + b3));
    }
}

/// <summary><see cref="MatVecBenchmarks"/> on 4096 × 4096 weights (L3-resident for most formats).</summary>
public class MatVec4096x4096Benchmarks : MatVecBenchmarks
{
    private const int Rows = 4096;
    private const string Category = "MatVec4096x4096";

    protected override int MatrixRows => Rows;

    protected override bool UsesGraph => true;

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void Ggml() => RunGgml();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void GgmlGraph() => RunGgmlGraph();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void OursFloat() => RunOursFloat();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void Ours() => RunOurs();
}

/// <summary>
/// <see cref="MatVecBenchmarks"/> on 16384 × 4096 weights, streamed from memory: the caches are evicted before every call
/// (BenchmarkDotNet then times one call per iteration), as a decode step finds each weight matrix.
/// </summary>
public class MatVec16384x4096Benchmarks : MatVecBenchmarks
{
    private const int Rows = 16384;
    private const string Category = "MatVec16384x4096";

    protected override int MatrixRows => Rows;

    protected override bool UsesGraph => true;

    [IterationSetup]
    public void EvictCaches() => BenchmarkData.EvictCaches();

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void Ggml() => RunGgml();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void GgmlGraph() => RunGgmlGraph();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void OursFloat() => RunOursFloat();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory(Category)]
    public void Ours() => RunOurs();
}

/// <summary>
/// 16384 × 4096 MatVec on one and two threads against a managed read of as many bytes on as many threads
/// (<see cref="MatVecBenchmarks.ReadSum"/>): the fraction of the machine's read bandwidth a MatVec reaches, every call
/// from memory (caches evicted before it). The baseline of each thread count is its read; ratio = read time / MatVec
/// time = MatVec GB/s / read GB/s.
/// </summary>
public class MatVecBandwidthBenchmarks : MatVecBenchmarks
{
    private const int Rows = 16384;

    protected override int MatrixRows => Rows;

    protected override bool UsesReadBuffer => true;

    /// <summary>A few formats of each family: every pair here costs two ~5 s pairs per tier in <c>--paired</c>.</summary>
    public static QuantType[] BandwidthFormats => BenchmarkTypes.Representatives;

    public override IEnumerable<QuantType> TypeValues => BandwidthFormats;

    /// <summary>Every call streams from memory (BenchmarkDotNet then times one call per iteration).</summary>
    [IterationSetup]
    public void EvictCaches() => BenchmarkData.EvictCaches();

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096OneThread")]
    public ulong Read1T() => ReadOneThread();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096OneThread")]
    public void Ours1T() => RunOurs();

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096TwoThreads")]
    public ulong Read2T() => ReadTwoThreads();

    [Benchmark(OperationsPerInvoke = Rows * MatrixColumns)]
    [BenchmarkCategory("MatVec16384x4096TwoThreads")]
    public void Ours2T() => RunOursTwoThreads();
}

/// <summary>
/// Every MatVec side on a small matrix (256 × 4096), for <c>--smoke</c>: the setups' cross-checks (ours against ggml's
/// vec_dot and mul_mat graph, two threads against one, the read kernels) and a few timed rounds of each pair.
/// Not a BenchmarkDotNet class (no [Benchmark] methods): under emulation it checks the harness, not speed.
/// </summary>
public sealed class MatVecSmokeBenchmarks : MatVecBenchmarks
{
    public const int Rows = 256;

    protected override int MatrixRows => Rows;

    protected override bool UsesGraph => true;

    protected override bool UsesReadBuffer => true;

    protected override bool WarmsUp => false;

    public void Ggml() => RunGgml();

    public void GgmlGraph() => RunGgmlGraph();

    public void OursFloat() => RunOursFloat();

    public void Ours() => RunOurs();

    public ulong Read1T() => ReadOneThread();

    public ulong Read2T() => ReadTwoThreads();

    public void Ours2T() => RunOursTwoThreads();
}
