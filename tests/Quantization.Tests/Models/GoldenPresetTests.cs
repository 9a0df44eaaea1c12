using Quantization.Gguf;
using Quantization.Models;

namespace Quantization.Tests.Models;

/// <summary>
/// The library against llama.cpp's recorded output (Models/golden-presets.tsv), on every platform: the plan of every
/// recorded preset case, and the whole file of a few. On x64 the preset oracle tests check the records themselves.
/// </summary>
public sealed class GoldenPresetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-golden-presets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_recorded_plan_is_the_librarys_plan()
    {
        var plain = GoldenPresets.Rows.Values.Where(r => QuantizationPresets.TryParse(r.Preset, out _)).ToList();
        Assert.True(plain.Count >= 250, $"only {plain.Count} recorded cases");
        foreach (GoldenPresets.Row row in plain)
        {
            SyntheticModel model = PresetOracleTests.Models[row.Model];
            QuantizationPresets.TryParse(row.Preset, out QuantizationPreset? preset);
            var tensors = model.Tensors().Select(t => new ModelTensor(t.Name, t.Dims, t.Matrix ? model.Source : QuantType.F32)).ToList();
            QuantizationPlan plan = new QuantizationRecipe(preset!.Value).CreatePlan(
                new ModelDescription(model.Architecture, model.Layers, model.Heads, model.KvHeads, model.Experts, tensors), row.Importance);
            string types = string.Join(";", plan.Tensors.Select(d => $"{d.Tensor.Name}={QuantFormat.Get(d.TargetType).Name}"));
            Assert.True(row.Types == types, $"{row.Model} {row.Preset} importance={row.Importance}: the plan differs from llama.cpp's file.");
        }
    }

    [Theory]
    [InlineData("llama", "Q4_K_M", false)]
    [InlineData("llama", "Q3_K_M", false)]
    [InlineData("llama", "Q2_K", false)]
    [InlineData("llama-224", "IQ4_XS", false)]
    [InlineData("llama-moe4", "MXFP4_MOE", false)]
    [InlineData("llama", "IQ2_XXS", true)]
    public void Recorded_files_are_the_librarys_files(string modelName, string presetName, bool importance)
    {
        Assert.True(GoldenPresets.Rows.TryGetValue(GoldenPresets.Keyed(modelName, presetName, importance), out GoldenPresets.Row? row));
        SyntheticModel model = PresetOracleTests.Models[modelName];
        string input = Path.Combine(_dir, "in.gguf"), output = Path.Combine(_dir, "out.gguf");
        model.Write(input);
        Assert.True(QuantizationPresets.TryParse(presetName, out QuantizationPreset? preset));
        using (GgufFile source = GgufFile.Open(input))
        {
            ModelQuantizer.Quantize(source, output, new QuantizationRecipe(preset.Value),
                new ModelQuantizationOptions { Threads = 2, Importance = importance ? PresetOracleTests.ImportanceFor(model) : null },
                cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(row.Sha256, GoldenPresets.Sha256Of(output));
    }
}
