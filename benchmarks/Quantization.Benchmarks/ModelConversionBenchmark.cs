using System.Diagnostics;
using System.Globalization;
using System.Text;
using Quantization.Gguf;
using Quantization.Models;
using Quantization.Oracle;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--model-convert [--layers N] [--vocab V] [--preset P]</c>: converts one synthetic F16 model of LLaMA-7B layer shapes
/// (4096 wide, 11008 feed-forward, 32 heads) with <see cref="ModelQuantizer"/> and with llama.cpp's
/// <c>llama_model_quantize</c>, at 1 and 2 threads, alternating, best of the rounds per side; checks the files are
/// byte-identical and prints the table of docs/presets.md. A whole model conversion takes seconds, so no BenchmarkDotNet.
/// </summary>
internal static class ModelConversionBenchmark
{
    public static int Run(int layers, int vocab, string presetName, int rounds)
    {
        if (!LlamaQuantize.IsAvailable)
        {
            Console.Error.WriteLine("llama_model_quantize is not available: " + LlamaQuantize.LoadError);
            return 1;
        }

        if (!QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset))
        {
            Console.Error.WriteLine($"unknown preset '{presetName}'");
            return 2;
        }

        string dir = Directory.CreateTempSubdirectory("quant-convert-bench-").FullName;
        try
        {
            string input = Path.Combine(dir, "model-f16.gguf");
            long values = WriteModel(input, layers, vocab);
            var table = new StringBuilder();
            table.AppendLine(CultureInfo.InvariantCulture, $"Model: {layers} LLaMA-7B layers (4096 x 11008, 32 heads) + vocabulary {vocab}, F16, {values / 1e6:0} M weights, {new FileInfo(input).Length / 1e9:0.00} GB; preset {presetName}; best of {rounds} alternating rounds per side.");
            table.AppendLine();
            table.AppendLine("| Threads | llama_model_quantize | ModelQuantizer | Speed-up | Our managed allocations | Largest tensor |");
            table.AppendLine("|---:|---:|---:|---:|---:|---:|");
            using GgufFile model = GgufFile.Open(input);
            long largest = model.Tensors.Max(t => t.ElementCount) * 4;
            foreach (int threads in (int[])[1, 2])
            {
                double bestTheirs = double.MaxValue, bestOurs = double.MaxValue;
                long allocated = 0;
                string theirs = Path.Combine(dir, "llama.gguf"), ours = Path.Combine(dir, "ours.gguf");
                for (int round = 0; round < rounds; round++)
                {
                    var clock = Stopwatch.StartNew();
                    if (LlamaQuantize.Quantize(input, theirs, (int)preset.Value, threads) != 0)
                    {
                        throw new InvalidOperationException("llama_model_quantize failed");
                    }

                    bestTheirs = Math.Min(bestTheirs, clock.Elapsed.TotalSeconds);
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    clock.Restart();
                    ModelQuantizer.Quantize(model, ours, new QuantizationRecipe(preset.Value), new ModelQuantizationOptions { Threads = threads });
                    bestOurs = Math.Min(bestOurs, clock.Elapsed.TotalSeconds);
                    allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                }

                if (!File.ReadAllBytes(theirs).AsSpan().SequenceEqual(File.ReadAllBytes(ours)))
                {
                    throw new InvalidOperationException("the files differ");
                }

                table.AppendLine(CultureInfo.InvariantCulture,
                    $"| {threads} | {bestTheirs:0.00} s | {bestOurs:0.00} s | {bestTheirs / bestOurs:0.0}x | {allocated / 1048576.0:0} MiB | {largest / 1048576.0:0} MiB as F32 |");
            }

            Console.WriteLine(table);
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Writes the model with the metadata llama.cpp's loader needs; returns its weight count.</summary>
    private static long WriteModel(string path, int layers, int vocab)
    {
        const int embedding = 4096, feedForward = 11008, heads = 32;
        var tensors = new List<(string Name, long[] Dims, QuantType Type)> { ("token_embd.weight", [embedding, vocab], QuantType.F16) };
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            tensors.AddRange([
                (b + "attn_norm.weight", [embedding], QuantType.F32), (b + "attn_q.weight", [embedding, embedding], QuantType.F16),
                (b + "attn_k.weight", [embedding, embedding], QuantType.F16), (b + "attn_v.weight", [embedding, embedding], QuantType.F16),
                (b + "attn_output.weight", [embedding, embedding], QuantType.F16), (b + "ffn_norm.weight", [embedding], QuantType.F32),
                (b + "ffn_gate.weight", [embedding, feedForward], QuantType.F16), (b + "ffn_up.weight", [embedding, feedForward], QuantType.F16),
                (b + "ffn_down.weight", [feedForward, embedding], QuantType.F16)]);
        }

        tensors.Add(("output_norm.weight", [embedding], QuantType.F32));
        tensors.Add(("output.weight", [embedding, vocab], QuantType.F16));
        using GgufWriter writer = GgufWriter.Create(path);
        writer.SetMetadata("general.architecture", GgufValue.FromString("llama"));
        writer.SetMetadata("llama.context_length", GgufValue.FromUInt32(4096));
        writer.SetMetadata("llama.embedding_length", GgufValue.FromUInt32(embedding));
        writer.SetMetadata("llama.block_count", GgufValue.FromUInt32((uint)layers));
        writer.SetMetadata("llama.feed_forward_length", GgufValue.FromUInt32(feedForward));
        writer.SetMetadata("llama.attention.head_count", GgufValue.FromUInt32(heads));
        writer.SetMetadata("llama.attention.head_count_kv", GgufValue.FromUInt32(heads));
        writer.SetMetadata("llama.attention.layer_norm_rms_epsilon", GgufValue.FromFloat32(1e-5f));
        writer.SetMetadata("llama.rope.dimension_count", GgufValue.FromUInt32(embedding / heads));
        writer.SetMetadata("llama.vocab_size", GgufValue.FromUInt32((uint)vocab));
        writer.SetMetadata("general.file_type", GgufValue.FromUInt32(1));
        foreach ((string name, long[] dims, QuantType type) in tensors)
        {
            writer.AddTensor(name, type, dims);
        }

        long total = 0;
        var random = new Random(7);
        foreach ((string name, long[] dims, QuantType type) in tensors)
        {
            int rowLength = (int)dims[0];
            long rows = dims.Length > 1 ? dims[1] : 1;
            var floats = new float[rowLength * 64];
            var bytes = new byte[Quantizer.GetByteCount(type, floats.Length)];
            for (long r = 0; r < rows; r += 64)
            {
                int n = (int)Math.Min(64, rows - r);
                for (int i = 0; i < n * rowLength; i++)
                {
                    floats[i] = type == QuantType.F32 ? 1f : (float)((random.NextDouble() - 0.5) * 0.04 * (random.Next(64) == 0 ? 8 : 1));
                }

                int count = (int)Quantizer.GetByteCount(type, n * rowLength);
                Quantizer.Quantize(type, floats.AsSpan(0, n * rowLength), bytes.AsSpan(0, count), rowLength);
                writer.WriteTensorData(bytes.AsSpan(0, count));
            }

            total += rowLength * rows;
        }

        writer.Finish();
        return total;
    }
}
