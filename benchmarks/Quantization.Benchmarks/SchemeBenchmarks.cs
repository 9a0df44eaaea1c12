using System.Diagnostics;
using System.Globalization;
using System.Text;
using Quantization.Kernels;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Schemes;
using Quantization.Tests.Support;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--schemes</c>: the quantization schemes (INT8 per channel, 4-bit groups with zero points, FP8 per channel and with
/// 128 × 128 block scales) against the ggml baselines the schemes are held to, measured side by side in one process on
/// one thread: <see cref="SchemeMatrix.MatVec"/> against a loop of ggml's <c>ggml_vec_dot_q8_0_q8_0</c> /
/// <c>ggml_vec_dot_q4_1_q8_1</c> over the same matrix (activations quantized once in the setup), alternating rounds, the
/// best round of each side; and the dequantize throughput in values per second. Ratios are of weight bytes per second
/// (each side's own bytes), the bandwidth a decode step is limited by.
/// </summary>
internal static unsafe class SchemeBenchmarks
{
    private const int Columns = 4096;
    internal const int SampleRows = 128;

    internal sealed class Ggml : IDisposable
    {
        private readonly delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> _vecDot;
        private readonly byte* _weights;
        private readonly byte* _activations;
        private readonly float* _y;
        private readonly int _rowBytes;

        public Ggml(QuantType type, QuantType activation, int rows, float[] sample, float[] x)
        {
            QuantFormat f = QuantFormat.Get(type);
            _rowBytes = Columns / f.BlockSize * f.BytesPerBlock;
            Bytes = (long)_rowBytes * rows;
            var quantized = new byte[_rowBytes * SampleRows];
            Quantizer.Quantize(type, sample, quantized, Columns);
            _weights = Alloc<byte>(Bytes);
            for (int r = 0; r < rows; r += SampleRows)
            {
                quantized.CopyTo(new Span<byte>(_weights + (long)r * _rowBytes, quantized.Length));
            }

            QuantFormat a = QuantFormat.Get(activation);
            int actBytes = Columns / a.BlockSize * a.BytesPerBlock;
            _activations = Alloc<byte>(actBytes);
            KernelRegistry.TryGet(activation)!.Quantize!(x, new Span<byte>(_activations, actBytes), default);
            Name = $"ggml_vec_dot_{GgmlName(type)}_{GgmlName(activation)}";
            _vecDot = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(Name);
            Rows = rows;
            _y = Alloc<float>(rows, OutputOffset);
        }

        public string Name { get; }

        public long Bytes { get; }

        public int Rows { get; }

        public ReadOnlySpan<float> Y => new(_y, Rows);

        public void Run()
        {
            for (int r = 0; r < Rows; r++)
            {
                _vecDot(Columns, _y + r, 0, _weights + (long)r * _rowBytes, 0, _activations, 0, 1);
            }
        }

        public void Dispose()
        {
            Free(_weights);
            Free(_activations);
            Free(_y);
        }
    }

    /// <summary>A scheme matrix of <paramref name="rows"/> rows: the quantized sample rows repeated, codes, scales and zero points alike.</summary>
    private static byte[] Replicate(QuantScheme scheme, int rows, float[] sample)
    {
        SchemeLayout small = SchemeLayout.Create(scheme, SampleRows, Columns);
        var quantized = new byte[small.TotalBytes];
        SchemeQuantizer.Quantize(scheme, sample, SampleRows, Columns, quantized);
        SchemeLayout big = SchemeLayout.Create(scheme, rows, Columns);
        var tensor = new byte[big.TotalBytes];
        long sampleScales = small.ScaleCount;
        for (int r = 0; r < rows; r += SampleRows)
        {
            quantized.AsSpan(0, (int)small.CodeBytes).CopyTo(tensor.AsSpan((int)((long)r * big.RowCodeBytes)));
        }

        for (long s = 0; s < big.ScaleCount; s += sampleScales)
        {
            int count = (int)Math.Min(sampleScales, big.ScaleCount - s);
            quantized.AsSpan((int)small.ScalesOffset, count * small.ScaleBytes).CopyTo(tensor.AsSpan((int)(big.ScalesOffset + s * big.ScaleBytes)));
            if (scheme.HasZeroPoints)
            {
                quantized.AsSpan((int)small.ZeroPointsOffset, count).CopyTo(tensor.AsSpan((int)(big.ZeroPointsOffset + s)));
            }
        }

        return tensor;
    }

    /// <summary>Best seconds per call of each side, alternating batches of about 2 ms (at least one call).</summary>
    internal static (double A, double B) Paired(Action a, Action b, double seconds = 3.0, int maxRounds = 61)
    {
        for (int i = 0; i < 3; i++)
        {
            a();
            b();
        }

        double bestA = double.MaxValue, bestB = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (int round = 0; round < maxRounds && (round < 11 || total.Elapsed.TotalSeconds < seconds); round++)
        {
            bestA = Math.Min(bestA, Time(a));
            bestB = Math.Min(bestB, Time(b));
        }

        return (bestA, bestB);

        static double Time(Action f)
        {
            long start = Stopwatch.GetTimestamp();
            int calls = 0;
            do
            {
                f();
                calls++;
            }
            while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < 2);

            return Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
        }
    }

    public static int Run()
    {
        RequireGgml();
        var culture = CultureInfo.InvariantCulture;
        string tier = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "Vector128";
        var table = new StringBuilder();
        table.AppendLine(culture, $"Schemes against ggml, one thread, {tier} tier ({Environment.ProcessorCount} cores, shared machine: ratios are of best rounds measured side by side)");
        table.AppendLine();
        table.AppendLine("| matrix | ours | ours GB/s | baseline | baseline GB/s | GB/s ratio | time ratio |");
        table.AppendLine("|---|---|---:|---|---:|---:|---:|");
        float[] sample = TestData.TransformerLike(0x5EED_BE4C, SampleRows * Columns);
        float[] x = TestData.Gaussian(0xAC71, Columns, 1);
        // The ggml format each scheme is measured against (INT8 and FP8 against Q8_0, asymmetric int4 groups against
        // Q4_1); its activation type is the one ggml's dot of that format takes.
        (string Name, QuantScheme Scheme, QuantType Baseline)[] pairs =
        [
            ("int8 per channel", QuantScheme.Int8PerChannel, QuantType.Q8_0),
            ("int4 g32 asym", QuantScheme.Group(4, 32, symmetric: false), QuantType.Q4_1),
            ("int4 g128 asym", QuantScheme.Group(4, 128, symmetric: false), QuantType.Q4_1),
            ("fp8 e4m3 per channel", QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Row), QuantType.Q8_0),
            ("fp8 e4m3 128x128", QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128), QuantType.Q8_0),
            ("fp8 e5m2 128x128", QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Block2D, 128), QuantType.Q8_0),
        ];
        foreach (int rows in new[] { 4096, 16384 })
        {
            foreach ((string name, QuantScheme scheme, QuantType baseline) in pairs)
            {
                QuantType activation = DotRegistry.TryGet(baseline)!.ActivationType;
                using var ggml = new Ggml(baseline, activation, rows, sample, x);
                byte[] tensor = Replicate(scheme, rows, sample);
                var matrix = new SchemeMatrix(scheme, tensor, rows, Columns);
                var y = new float[rows];
                void Ours() => matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
                RequireNoAllocation(Ours, $"{scheme} MatVec");
                ggml.Run();
                Ours();
                RequireClose(ggml.Y, y, scheme.ToString());
                (double theirs, double ours) = Paired(ggml.Run, Ours);
                double oursGb = tensor.Length / ours / 1e9, theirsGb = ggml.Bytes / theirs / 1e9;
                table.AppendLine(culture, $"| {rows} × {Columns} | {name} | {oursGb:F1} | {ggml.Name} | {theirsGb:F1} | {oursGb / theirsGb:F2} | {theirs / ours:F2} |");
                Console.Error.WriteLine($"// {rows}x{Columns} {scheme}: {oursGb:F1} GB/s vs {ggml.Name} {theirsGb:F1} GB/s");
            }
        }

        table.AppendLine();
        table.AppendLine("| dequantize 256 × 4096 | G values/s | quantize G values/s |");
        table.AppendLine("|---|---:|---:|");
        foreach (QuantScheme scheme in new[] { QuantScheme.Int8PerChannel, QuantScheme.Group(4, 128, symmetric: false), QuantScheme.Group(3, 128),
                                               QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128) })
        {
            const int rows = 256;
            float[] w = TestData.TransformerLike(7, rows * Columns);
            var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, Columns)];
            var back = new float[w.Length];
            void Quantize() => SchemeQuantizer.Quantize(scheme, w, rows, Columns, tensor);
            void Dequantize() => SchemeQuantizer.Dequantize(scheme, tensor, rows, Columns, back);
            (double q, double d) = Paired(Quantize, Dequantize, seconds: 1.5);
            table.AppendLine(culture, $"| {scheme} | {w.Length / d / 1e9:F2} | {w.Length / q / 1e9:F2} |");
        }

        Console.WriteLine(table.ToString());
        return 0;
    }

    private static void RequireClose(ReadOnlySpan<float> ggml, ReadOnlySpan<float> ours, string what)
    {
        // Different weight formats from the same floats: the products agree to the formats' error, not to rounding.
        double maxDiff = 0, maxAbs = 1e-30;
        for (int i = 0; i < ggml.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(ggml[i] - ours[i]));
            maxAbs = Math.Max(maxAbs, Math.Abs(ggml[i]));
        }

        if (!(maxDiff <= 0.25 * maxAbs))
        {
            throw new InvalidOperationException($"{what}: ours differs from the ggml baseline by {maxDiff} (max |y| {maxAbs}); the benchmark would compare different work.");
        }
    }
}
