namespace Quantization.Models;

/// <summary>One line of a <see cref="QuantizationPlan"/>: what happens to one tensor, and the rule that decided it.</summary>
/// <param name="Tensor">The source tensor.</param>
/// <param name="TargetType">The type written; the source type when the tensor is copied.</param>
/// <param name="Rule">The rule that chose <paramref name="TargetType"/>, e.g. "attn_v: use_more_bits" or "not quantized: norm".</param>
/// <param name="RequiresImportance">Whether llama-quantize refuses to write this tensor without importance data.</param>
public sealed record TensorDecision(ModelTensor Tensor, QuantType TargetType, string Rule, bool RequiresImportance)
{
    /// <summary>Whether the tensor is converted (its target type differs from its source type).</summary>
    public bool IsConverted => TargetType != Tensor.Type;

    /// <summary>The bytes of the tensor as written.</summary>
    public long TargetBytes => Quantizer.GetByteCount(TargetType, Tensor.ElementCount);

    /// <summary>The bytes of the source tensor.</summary>
    public long SourceBytes => Quantizer.GetByteCount(Tensor.Type, Tensor.ElementCount);
}
