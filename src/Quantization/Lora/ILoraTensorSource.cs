using System.Diagnostics.CodeAnalysis;

namespace Quantization.Lora;

/// <summary>
/// The tensors of an adapter checkpoint by name, whatever file they come from (a safetensors file, a state dictionary
/// held in memory): what <see cref="LoraAdapterSet.FromPeft"/> reads.
/// </summary>
public interface ILoraTensorSource
{
    /// <summary>Every tensor name, in the source's order.</summary>
    IEnumerable<string> TensorNames { get; }

    /// <summary>Gets the tensor named <paramref name="name"/>.</summary>
    bool TryGetTensor(string name, [NotNullWhen(true)] out LoraSourceTensor? tensor);
}
