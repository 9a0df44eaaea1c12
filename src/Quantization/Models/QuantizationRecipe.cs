namespace Quantization.Models;

/// <summary>
/// How to quantize a model: a llama.cpp preset and the options of llama-quantize that change its per-tensor choices.
/// <see cref="CreatePlan"/> applies it to a model and lists every decision with the rule that made it; the plan is what
/// <see cref="ModelQuantizer"/> writes. Presets follow llama.cpp's rules (docs/presets.md).
/// </summary>
public sealed class QuantizationRecipe
{
    /// <summary>Creates a recipe for <paramref name="preset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="preset"/> is not a defined preset.</exception>
    public QuantizationRecipe(QuantizationPreset preset)
    {
        if (!Enum.IsDefined(preset))
        {
            throw new ArgumentOutOfRangeException(nameof(preset), preset, "Not a preset.");
        }

        Preset = preset;
    }

    /// <summary>The preset (llama.cpp's <c>llama_ftype</c>, written as <c>general.file_type</c>).</summary>
    public QuantizationPreset Preset { get; }

    /// <summary>The type of <c>output.weight</c> (and of tied token embeddings) instead of the preset's (<c>--output-tensor-type</c>).</summary>
    public QuantType? OutputTensorType { get; init; }

    /// <summary>The type of <c>token_embd.weight</c> instead of the preset's (<c>--token-embedding-type</c>).</summary>
    public QuantType? TokenEmbeddingType { get; init; }

    /// <summary>Copy <c>output.weight</c> unchanged (<c>--leave-output-tensor</c>).</summary>
    public bool LeaveOutputTensor { get; init; }

    /// <summary>One type everywhere: the preset's default type, without its per-tensor rules (<c>--pure</c>).</summary>
    public bool Pure { get; init; }

    /// <summary>Types by tensor-name pattern, first match wins (<c>--tensor-type PATTERN=TYPE</c>).</summary>
    public IReadOnlyList<TensorTypeOverride> TensorTypes { get; init; } = [];

    /// <summary>The type of tensors no rule moves (see <see cref="QuantizationPresets.GetDefaultType"/>).</summary>
    public QuantType DefaultType => QuantizationPresets.GetDefaultType(Preset);

    /// <summary>
    /// Decides every tensor's type for <paramref name="model"/>. <paramref name="hasImportance"/> says whether importance
    /// data will be given: a few rules (IQ3_XXS, IQ4_NL / IQ4_XS, Q4_0 / Q5_0 feed-forward-down) choose differently with it.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor's rows fit neither the chosen type nor a fallback, or an expert tensor's layer cannot be read from its name.</exception>
    public QuantizationPlan CreatePlan(ModelDescription model, bool hasImportance = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (TensorTypeOverride o in TensorTypes)
        {
            ArgumentNullException.ThrowIfNull(o, nameof(TensorTypes));
        }

        return LlamaTensorRules.Plan(this, model, hasImportance);
    }
}
