using System.Diagnostics.CodeAnalysis;

namespace Quantization.Lora;

/// <summary>An <see cref="ILoraTensorSource"/> over tensors held in memory, in the order they were added.</summary>
public sealed class InMemoryLoraTensorSource : ILoraTensorSource
{
    private readonly List<string> _names = [];
    private readonly Dictionary<string, LoraSourceTensor> _tensors = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public IEnumerable<string> TensorNames => _names;

    /// <summary>Adds a float32 tensor.</summary>
    /// <param name="name">A name not added before.</param>
    /// <param name="shape">The dimensions, outermost first.</param>
    /// <param name="data">The values, row-major (not copied).</param>
    /// <exception cref="ArgumentException">The name was already added, or the length does not match the shape.</exception>
    public void Add(string name, ReadOnlySpan<int> shape, ReadOnlyMemory<float> data) => Add(name, new LoraSourceTensor(shape, data));

    /// <summary>Adds a tensor.</summary>
    /// <exception cref="ArgumentException">The name was already added.</exception>
    public void Add(string name, LoraSourceTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_tensors.TryAdd(name, tensor))
        {
            ThrowHelper.ThrowArgument(nameof(name), $"A tensor named '{name}' was already added.");
        }

        _names.Add(name);
    }

    /// <inheritdoc />
    public bool TryGetTensor(string name, [NotNullWhen(true)] out LoraSourceTensor? tensor) => _tensors.TryGetValue(name, out tensor);
}
