namespace Quantization.Models;

/// <summary>The per-tensor decisions of a <see cref="QuantizationRecipe"/> for one model, in the order the file is written.</summary>
public sealed class QuantizationPlan
{
    internal QuantizationPlan(QuantizationRecipe recipe, ModelDescription model, bool hasImportance, IReadOnlyList<TensorDecision> tensors, int fallbacks)
    {
        Recipe = recipe;
        Model = model;
        HasImportance = hasImportance;
        Tensors = tensors;
        FallbackCount = fallbacks;
        SourceBytes = tensors.Sum(t => t.SourceBytes);
        TargetBytes = tensors.Sum(t => t.TargetBytes);
        ElementCount = tensors.Sum(t => t.Tensor.ElementCount);
    }

    /// <summary>The recipe the plan was made from.</summary>
    public QuantizationRecipe Recipe { get; }

    /// <summary>The model the plan was made for.</summary>
    public ModelDescription Model { get; }

    /// <summary>Whether the plan assumed importance data (some rules choose differently with it).</summary>
    public bool HasImportance { get; }

    /// <summary>One decision per tensor, in output order (llama.cpp's: tensors outside layers by name, then layer by layer, by name).</summary>
    public IReadOnlyList<TensorDecision> Tensors { get; }

    /// <summary>How many tensors fell back to another type because their rows do not fit the chosen type's blocks.</summary>
    public int FallbackCount { get; }

    /// <summary>Total tensor bytes of the source.</summary>
    public long SourceBytes { get; }

    /// <summary>Total tensor bytes of the output (without header and padding).</summary>
    public long TargetBytes { get; }

    /// <summary>Total values of all tensors.</summary>
    public long ElementCount { get; }

    /// <summary>Output bits per value, over all tensors (llama-quantize's "BPW").</summary>
    public double BitsPerWeight => ElementCount == 0 ? 0 : TargetBytes * 8.0 / ElementCount;

    /// <summary>Whether any tensor needs importance data.</summary>
    public bool RequiresImportance => Tensors.Any(t => t.RequiresImportance);
}
