using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;

namespace Quantization.Samples.Embeddings;

/// <summary>A way to quantize the model's matrices: a name and a <see cref="MatrixQuantizer"/>.</summary>
/// <param name="Name">As printed in the table.</param>
/// <param name="Quantize">Quantizes one matrix.</param>
/// <param name="NeedsCalibration">Whether <paramref name="Quantize"/> reads the calibration run's statistics.</param>
public sealed record QuantizationMethod(string Name, MatrixQuantizer Quantize, bool NeedsCalibration);

/// <summary>One line of the comparison.</summary>
public sealed record ComparisonRow(string Format, string Method, long MatrixBytes, double MeanCosine, double NeighboursKept, double SentencesPerSecond);

/// <summary>
/// Quantizes the model to each format with each method, embeds the evaluation sentences and compares them with the
/// float model's embeddings: mean cosine, the share of sentences whose nearest neighbour in the set is unchanged,
/// matrix bytes, and single-thread speed.
/// </summary>
public static class QualityComparison
{
    public static readonly QuantType[] DefaultTypes =
    [
        QuantType.Q8_0, QuantType.Q6_K, QuantType.Q5_K, QuantType.Q4_K, QuantType.Q4_0,
        QuantType.IQ4_XS, QuantType.IQ4_NL, QuantType.Q3_K, QuantType.Q2_K,
    ];

    /// <summary>
    /// The methods compared. A new one (GPTQ, AWQ, ...) is one more entry; if it needs statistics other than
    /// importance, the recorder passed to it is where they are collected.
    /// </summary>
    public static readonly QuantizationMethod[] Methods =
    [
        new("plain", MatrixQuantization.Plain, NeedsCalibration: false),
        new("imatrix", MatrixQuantization.WithImportance, NeedsCalibration: true),
        new("GPTQ", MatrixQuantization.WithGptq, NeedsCalibration: true),
        new("AWQ", MatrixQuantization.WithAwq, NeedsCalibration: true),
        new("AWQ+GPTQ", MatrixQuantization.WithAwqAndGptq, NeedsCalibration: true),
    ];

    public static int Run(string[] args)
    {
        QuantType[] types = DefaultTypes;
        int limit = int.MaxValue;
        string? modelPath = null;
        bool withOnnxRuntime = true;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--types":
                    types = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => Enum.Parse<QuantType>(t, ignoreCase: true))];
                    break;
                case "--limit":
                    limit = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--no-onnx":
                    withOnnxRuntime = false;
                    break;
                case "--model":
                    modelPath = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 1;
            }
        }

        using GgufFile file = ModelCache.Open(modelPath);
        var tokenizer = ArcticTokenizer.FromGguf(file);
        long[][] evaluation = [.. ReadSentences("evaluation.txt").Take(limit).Select(tokenizer.Encode)];
        long[][] calibration = [.. ReadSentences("calibration.txt").Take(limit).Select(tokenizer.Encode)];

        Console.WriteLine($"{evaluation.Length} evaluation sentences, {calibration.Length} calibration sentences, one thread, "
                        + $"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}");
        Console.WriteLine();
        Console.WriteLine("| format | method | matrix bytes | mean cos | 1 − cos | top-1 neighbour kept | sentences/s |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");

        EncoderWeights exact = EncoderWeights.Load(file);
        (float[][] reference, double referenceSpeed) = EmbedAll(exact, evaluation);
        int[] referenceNeighbours = NearestNeighbours(reference);
        Print(new ComparisonRow("F32", "-", exact.MatrixBytes, 1, 1, referenceSpeed));
        if (withOnnxRuntime)
        {
            (float[][] onnx, double onnxSpeed) = OnnxRuntimeBaseline.EmbedAll(file, evaluation);
            Print(Compare("F32 (ONNX Runtime)", "-", exact.MatrixBytes, reference, referenceNeighbours, onnx, onnxSpeed));
        }

        var recorder = new CalibrationRecorder();
        var calibrator = new BertEncoder(exact) { Recorder = recorder };
        foreach (long[] ids in calibration)
        {
            calibrator.Encode(ids);
        }

        foreach (QuantType type in types)
        {
            foreach (QuantizationMethod method in Methods)
            {
                EncoderWeights weights = EncoderWeights.Load(file, type, method.Quantize, method.NeedsCalibration ? recorder : null);
                (float[][] embeddings, double speed) = EmbedAll(weights, evaluation);
                Print(Compare(Describe(type, weights), method.Name, weights.MatrixBytes, reference, referenceNeighbours, embeddings, speed));
            }
        }

        return 0;
    }

    public static ComparisonRow Compare(string format, string method, long bytes, float[][] reference, int[] referenceNeighbours,
                                        float[][] embeddings, double speed)
    {
        double meanCosine = Enumerable.Range(0, embeddings.Length)
            .Average(i => (double)TensorPrimitives.CosineSimilarity(reference[i], embeddings[i]));
        int[] neighbours = NearestNeighbours(embeddings);
        double kept = neighbours.Zip(referenceNeighbours).Count(p => p.First == p.Second) / (double)neighbours.Length;
        return new ComparisonRow(format, method, bytes, meanCosine, kept, speed);
    }

    /// <summary>"Q4_K (Q5_0 where rows are 384)" when some matrices fall back to another format.</summary>
    private static string Describe(QuantType requested, EncoderWeights weights)
    {
        var fallbacks = weights.Matrices.Select(m => EncoderWeights.Quantized(m.Matrix)!).Where(m => m.Type != requested)
            .Select(m => (m.Type, m.Columns)).Distinct().Select(f => $"{f.Type} where rows are {f.Columns}").ToArray();
        return fallbacks.Length == 0 ? requested.ToString() : $"{requested} ({string.Join(", ", fallbacks)})";
    }

    private static void Print(ComparisonRow r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {r.Format} | {r.Method} | {r.MatrixBytes:N0} | {r.MeanCosine:F6} | {1 - r.MeanCosine:0.00E+00} | {r.NeighboursKept:P1} | {r.SentencesPerSecond:F1} |"));

    /// <summary>Every sentence's embedding on one thread, and the sentences per second (tokenization excluded).</summary>
    public static (float[][] Embeddings, double SentencesPerSecond) EmbedAll(EncoderWeights weights, long[][] sentences)
    {
        var encoder = new BertEncoder(weights, maxDegreeOfParallelism: 1);
        WarmUp(sentences, ids => encoder.Embed(ids));
        var embeddings = new float[sentences.Length][];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < sentences.Length; i++)
        {
            embeddings[i] = encoder.Embed(sentences[i]);
        }

        return (embeddings, sentences.Length / Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>
    /// Runs <paramref name="embed"/> for half a second before timing, so the JIT has replaced its first quick code with
    /// optimized code (tiered compilation) and the buffers are grown.
    /// </summary>
    internal static void WarmUp(long[][] sentences, Action<long[]> embed)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; Stopwatch.GetElapsedTime(start).TotalSeconds < 0.5; i++)
        {
            embed(sentences[i % sentences.Length]);
        }
    }

    /// <summary>For each embedding, the index of the most similar other one.</summary>
    public static int[] NearestNeighbours(float[][] embeddings)
    {
        var result = new int[embeddings.Length];
        for (int i = 0; i < embeddings.Length; i++)
        {
            float best = float.NegativeInfinity;
            for (int j = 0; j < embeddings.Length; j++)
            {
                // Unit vectors: the dot product is the cosine.
                float similarity = j == i ? float.NegativeInfinity : TensorPrimitives.Dot(embeddings[i], embeddings[j]);
                if (similarity > best)
                {
                    best = similarity;
                    result[i] = j;
                }
            }
        }

        return result;
    }

    public static IEnumerable<string> ReadSentences(string fileName) =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", fileName)).Where(l => l.Length > 0);
}
