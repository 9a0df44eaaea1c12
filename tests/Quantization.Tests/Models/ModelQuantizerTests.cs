using Quantization.Gguf;
using Quantization.Models;
using Quantization.Tests.Support;

namespace Quantization.Tests.Models;

/// <summary>The library API without the oracle: progress, cancellation, threads, refusals, and plans on real shapes.</summary>
public sealed class ModelQuantizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(SyntheticModel model)
    {
        string path = Path.Combine(_dir, $"model-{model.Seed}.gguf");
        model.Write(path);
        return path;
    }

    private sealed class Recorder(Action<ModelQuantizationProgress>? onReport = null) : IProgress<ModelQuantizationProgress>
    {
        public List<ModelQuantizationProgress> Reports { get; } = [];

        public void Report(ModelQuantizationProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    [Fact]
    public void The_logger_sees_the_start_every_tensor_the_end_and_a_stop()
    {
        using GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2)));
        string output = Path.Combine(_dir, "logged.gguf");
        var logger = new ListLogger();
        ModelQuantizer.Quantize(model, output, new QuantizationRecipe(QuantizationPreset.Q4_K_M),
                                new ModelQuantizationOptions { Threads = 1, Logger = logger }, null, TestContext.Current.CancellationToken);

        Assert.StartsWith($"Quantizing {model.Tensors.Count} tensors", logger.Entries[0].Message, StringComparison.Ordinal);
        Assert.Equal(model.Tensors.Count, logger.Entries.Count(e => e.Level == Microsoft.Extensions.Logging.LogLevel.Debug));
        Assert.Contains(logger.Entries, e => e.Message.Contains("blk.0.attn_v.weight", StringComparison.Ordinal) && e.Message.Contains("->", StringComparison.Ordinal));
        Assert.StartsWith($"Wrote {output}", logger.Entries[^1].Message, StringComparison.Ordinal);

        var stopped = new ListLogger();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ModelQuantizer.Quantize(model, Path.Combine(_dir, "stopped.gguf"), new QuantizationRecipe(QuantizationPreset.Q4_K_M),
                                                                                 new ModelQuantizationOptions { Logger = stopped }, null, cts.Token));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, stopped.Entries[^1].Level);
        Assert.False(File.Exists(Path.Combine(_dir, "stopped.gguf")));
    }

    [Fact]
    public void Progress_counts_every_tensor_and_every_source_byte()
    {
        using GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2)));
        var progress = new Recorder();
        ModelQuantizationResult result = ModelQuantizer.Quantize(model, Path.Combine(_dir, "out.gguf"), new QuantizationRecipe(QuantizationPreset.Q4_K_M),
                                                                 new ModelQuantizationOptions { Threads = 2 }, progress, TestContext.Current.CancellationToken);

        Assert.Equal(model.Tensors.Count, progress.Reports.Count);
        Assert.Equal(Enumerable.Range(1, model.Tensors.Count), progress.Reports.Select(r => r.TensorsDone));
        Assert.All(progress.Reports, r => Assert.Equal(model.Tensors.Count, r.TensorCount));
        Assert.Equal(model.Tensors.Sum(t => t.ByteCount), progress.Reports[^1].BytesDone);
        Assert.Equal(progress.Reports[^1].TotalBytes, progress.Reports[^1].BytesDone);
        Assert.Equal(new FileInfo(Path.Combine(_dir, "out.gguf")).Length, result.OutputBytes);
    }

    [Fact]
    public void Cancellation_stops_and_deletes_the_partial_file()
    {
        using GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2)));
        string output = Path.Combine(_dir, "out.gguf");
        using var cts = new CancellationTokenSource();
        bool sawPartial = false;
        var progress = new Recorder(r =>
        {
            if (r.TensorsDone == 3)
            {
                sawPartial = File.Exists(output + ".tmp");
                cts.Cancel();
            }
        });

        Assert.ThrowsAny<OperationCanceledException>(() =>
            ModelQuantizer.Quantize(model, output, new QuantizationRecipe(QuantizationPreset.Q4_K_M), null, progress, cts.Token));

        Assert.True(sawPartial);
        Assert.Equal(3, progress.Reports.Count);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [Theory]
    [InlineData("Q4_K_M")]
    [InlineData("IQ4_XS")]
    [InlineData("MXFP4_MOE")]
    public void The_bytes_do_not_depend_on_the_thread_count(string presetName)
    {
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        using GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2, Experts: 4, FeedForward: 256)));
        var recipe = new QuantizationRecipe(preset.Value);
        ModelQuantizer.Quantize(model, Path.Combine(_dir, "one.gguf"), recipe, new ModelQuantizationOptions { Threads = 1 }, cancellationToken: TestContext.Current.CancellationToken);
        ModelQuantizer.Quantize(model, Path.Combine(_dir, "four.gguf"), recipe, new ModelQuantizationOptions { Threads = 4 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "one.gguf")), File.ReadAllBytes(Path.Combine(_dir, "four.gguf")));
    }

    [Fact]
    public void An_already_quantized_source_is_refused_without_leaving_a_file()
    {
        string q8 = Path.Combine(_dir, "q8.gguf");
        using (GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2))))
        {
            ModelQuantizer.Quantize(model, q8, new QuantizationRecipe(QuantizationPreset.Q8_0), cancellationToken: TestContext.Current.CancellationToken);
        }

        using GgufFile quantized = GgufFile.Open(q8);
        string output = Path.Combine(_dir, "out.gguf");
        var ex = Assert.Throws<InvalidDataException>(() =>
            ModelQuantizer.Quantize(quantized, output, new QuantizationRecipe(QuantizationPreset.Q4_K_M), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("requantizing", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [Fact]
    public void Importance_of_the_wrong_length_names_the_tensor()
    {
        using GgufFile model = GgufFile.Open(Write(new SyntheticModel("llama", Layers: 2)));
        var importance = new Dictionary<string, float[]> { ["blk.1.attn_q.weight"] = new float[100] };
        var ex = Assert.Throws<InvalidDataException>(() => ModelQuantizer.Quantize(model, Path.Combine(_dir, "out.gguf"),
            new QuantizationRecipe(QuantizationPreset.Q4_K_M), new ModelQuantizationOptions { Importance = importance },
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("blk.1.attn_q.weight", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The published LLaMA-2 7B Q4_K_M / Q3_K_M / Q8_0 files are about 4.08 / 3.30 / 7.16 GB (10^9 bytes of tensors);
    /// the plans on the 7B shape land there because the mixes keep attention values, feed-forward-down and output larger.
    /// </summary>
    [Theory]
    [InlineData("Q4_K_M", 4.0, 4.2)]
    [InlineData("Q3_K_M", 3.2, 3.4)]
    [InlineData("Q8_0", 7.1, 7.2)]
    public void Plans_on_the_7B_shape_have_the_sizes_of_the_published_files(string presetName, double minGb, double maxGb)
    {
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        QuantizationPlan plan = new QuantizationRecipe(preset.Value).CreatePlan(ModelDescription.Llama7B);
        Assert.InRange(plan.TargetBytes / 1e9, minGb, maxGb);
        Assert.Equal(6_738_415_616L, plan.ElementCount); // LLaMA-2 7B's parameter count
    }

    [Fact]
    public void A_plan_names_the_rule_of_every_decision_in_llama_cpps_order()
    {
        QuantizationPlan plan = new QuantizationRecipe(QuantizationPreset.Q4_K_M).CreatePlan(ModelDescription.Llama7B);
        string[] names = [.. plan.Tensors.Select(t => t.Tensor.Name)];
        Assert.Equal(["output.weight", "output_norm.weight", "token_embd.weight", "blk.0.attn_k.weight"], names[..4]);
        Assert.Equal("blk.2.attn_k.weight", names[3 + 9 * 2]); // blk.10 sorts after blk.9, not after blk.1
        Assert.All(plan.Tensors, t => Assert.False(string.IsNullOrWhiteSpace(t.Rule)));
        TensorDecision v0 = plan.Tensors.Single(t => t.Tensor.Name == "blk.0.attn_v.weight");
        Assert.Equal(QuantType.Q6_K, v0.TargetType);
        Assert.Contains("use_more_bits", v0.Rule, StringComparison.Ordinal);
        Assert.Equal(QuantType.F32, plan.Tensors.Single(t => t.Tensor.Name == "blk.0.attn_norm.weight").TargetType);
    }
}
