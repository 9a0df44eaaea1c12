using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Quantization.BitsAndBytes;
using Quantization.Checkpoints;
using Quantization.Kernels.Dot;
using Quantization.Schemes;
using Quantization.Tests.Support;
using static Quantization.Benchmarks.BenchmarkData;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--checkpoints</c>: the checkpoint layouts' MatVec (GPTQ and AWQ 4-bit with groups of 128, GPTQ with an
/// activation-order permutation, bitsandbytes NF4, FP8 with 128 × 128 block scales) on one thread against ggml's
/// <c>ggml_vec_dot_q4_1_q8_1</c> (FP8 against <c>q8_0</c>) over a matrix of the same shape, measured side by side; ratios
/// are of weight bytes per second, each side counting the bytes its checkpoint stores.
/// </summary>
internal static class CheckpointBenchmarks
{
    private const int Columns = 4096;
    private const int Rows = 4096;

    public static int Run()
    {
        RequireGgml();
        var culture = CultureInfo.InvariantCulture;
        string tier = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "Vector128";
        var table = new StringBuilder();
        table.AppendLine(culture, $"Checkpoint layouts against ggml, {Rows} × {Columns}, one thread, {tier} tier ({Environment.ProcessorCount} cores, shared machine: best rounds measured side by side)");
        table.AppendLine();
        table.AppendLine("| layout | ours GB/s | baseline | baseline GB/s | GB/s ratio | time ratio |");
        table.AppendLine("|---|---:|---|---:|---:|---:|");
        float[] sample = TestData.TransformerLike(0x5EED_BE4C, SchemeBenchmarks.SampleRows * Columns);
        float[] x = TestData.Gaussian(0xAC71, Columns, 1);
        var rng = new TestRng(0xC4EC);
        foreach ((string name, IWeightMatrix matrix, long bytes, QuantType baseline) in Layouts(rng).Prepend(OurQ41(sample)))
        {
            QuantType activation = DotRegistry.TryGet(baseline)!.ActivationType;
            using var ggml = new SchemeBenchmarks.Ggml(baseline, activation, Rows, sample, x);
            var y = new float[Rows];
            void Ours() => matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
            RequireNoAllocation(Ours, name + " MatVec");
            (double theirs, double ours) = SchemeBenchmarks.Paired(ggml.Run, Ours);
            double oursGb = bytes / ours / 1e9, theirsGb = ggml.Bytes / theirs / 1e9;
            table.AppendLine(culture, $"| {name} | {oursGb:F1} | {ggml.Name} | {theirsGb:F1} | {oursGb / theirsGb:F2} | {theirs / ours:F2} |");
            Console.Error.WriteLine($"// {name}: {oursGb:F1} GB/s vs {ggml.Name} {theirsGb:F1} GB/s");
        }

        Console.WriteLine(table.ToString());
        return 0;
    }

    private static IEnumerable<(string Name, IWeightMatrix Matrix, long Bytes, QuantType Baseline)> Layouts(TestRng rng)
    {
        const int group = 128, groups = Columns / group;
        byte[] qweight = Words(Columns / 8 * Rows, rng);          // GPTQ [in / 8, out] or AWQ [in, out / 8]: random nibbles either way
        byte[] qzeros = Words(groups * Rows / 8, rng);
        byte[] scales = new byte[groups * Rows * 2];
        for (int i = 0; i < groups * Rows; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(scales.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)(0.001 + rng.NextDouble() * 0.01)));
        }

        long int4Bytes = qweight.Length + qzeros.Length + scales.Length;
        yield return ("GPTQ int4 g128", new GptqMatrix(new GptqConfig(4, group), Columns, Rows, qweight, qzeros, scales), int4Bytes, QuantType.Q4_1);

        var gIdx = new int[Columns];
        int[] order = Enumerable.Range(0, Columns).ToArray();
        for (int i = Columns - 1; i > 0; i--)
        {
            int k = rng.NextInt(i + 1);
            (order[i], order[k]) = (order[k], order[i]);
        }

        for (int k = 0; k < Columns; k++)
        {
            gIdx[order[k]] = k / group;
        }

        yield return ("GPTQ int4 g128 act-order", new GptqMatrix(new GptqConfig(4, group, descAct: true), Columns, Rows, qweight, qzeros, scales,
                                                                 MemoryMarshal.AsBytes(gIdx.AsSpan())), int4Bytes + gIdx.Length * 4, QuantType.Q4_1);
        yield return ("AWQ int4 g128", new AwqMatrix(group, Columns, Rows, qweight, qzeros, scales), int4Bytes, QuantType.Q4_1);

        float[] w = TestData.TransformerLike(0xB17E, Rows * Columns);
        var packed = new byte[Rows * Columns / 2];
        BitsAndBytesQuantState state = BitsAndBytes4Bit.Quantize(QuantType.NF4, w, packed, 64, compressStatistics: true);
        yield return ("bitsandbytes NF4 b64 nested", new BitsAndBytes4BitMatrix(packed, state, Rows, Columns),
                      packed.Length + state.QuantizedAbsmax.Length + state.NestedAbsmax.Length * 4, QuantType.Q4_1);

        byte[] fp8 = new byte[Rows * Columns];
        Fp8E4M3.FromSingle(w, fp8);
        float[] blockScales = Enumerable.Repeat(0.01f, (Rows / 128) * (Columns / 128)).ToArray();
        yield return ("FP8 e4m3 128x128", new Fp8WeightMatrix(fp8, Rows, Columns, MemoryMarshal.AsBytes(blockScales.AsSpan()), [Rows / 128, Columns / 128]),
                      fp8.Length + blockScales.Length * 4, QuantType.Q8_0);
    }

    /// <summary>The library's own Q4_1 MatVec on the same shape: the reference point the layouts are read against.</summary>
    private static (string, IWeightMatrix, long, QuantType) OurQ41(float[] sample)
    {
        QuantFormat f = QuantFormat.Get(QuantType.Q4_1);
        int rowBytes = Columns / f.BlockSize * f.BytesPerBlock;
        var quantized = new byte[rowBytes * SchemeBenchmarks.SampleRows];
        Quantizer.Quantize(QuantType.Q4_1, sample, quantized, Columns);
        var weights = new byte[(long)rowBytes * Rows];
        for (int r = 0; r < Rows; r += SchemeBenchmarks.SampleRows)
        {
            quantized.CopyTo(weights.AsSpan(r * rowBytes));
        }

        return ("our Q4_1 (QuantizedMatrix)", new QuantizedMatrix(QuantType.Q4_1, weights, Rows, Columns), weights.Length, QuantType.Q4_1);
    }

    private static byte[] Words(int count, TestRng rng)
    {
        var bytes = new byte[count * 4];
        for (int i = 0; i < bytes.Length; i += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i), rng.NextUInt64());
        }

        return bytes;
    }
}
