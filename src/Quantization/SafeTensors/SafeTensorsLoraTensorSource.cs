using System.Diagnostics.CodeAnalysis;
using Quantization.Lora;

namespace Quantization.SafeTensors;

/// <summary>
/// The tensors of a safetensors file as an adapter checkpoint: what <see cref="LoraAdapterSet.FromPeft"/> reads from
/// <c>adapter_model.safetensors</c>. Values are converted to float32 (F32, F16, BF16, F64, FP8) when the adapter asks
/// for them, straight from the file's map.
/// </summary>
/// <remarks>The file must stay open until the adapters have been read.</remarks>
public sealed class SafeTensorsLoraTensorSource : ILoraTensorSource
{
    private readonly SafeTensorsFile _file;

    /// <summary>Reads the tensors of <paramref name="file"/>.</summary>
    public SafeTensorsLoraTensorSource(SafeTensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file;
    }

    /// <inheritdoc />
    public IEnumerable<string> TensorNames => _file.Tensors.Select(t => t.Name);

    /// <inheritdoc />
    /// <exception cref="InvalidDataException">The tensor is not a floating-point dtype, or a dimension does not fit an <see cref="int"/>.</exception>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out LoraSourceTensor? tensor)
    {
        tensor = null;
        if (!_file.TryGetTensor(name, out SafeTensorsTensorInfo? info))
        {
            return false;
        }

        SafeTensorsTensorView view = _file.GetTensorView(info);
        if (!view.CanReadAsSingle)
        {
            throw new InvalidDataException($"Adapter tensor '{name}' is {info.DTypeName}, not a floating-point dtype.");
        }

        var shape = new int[info.Shape.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = info.Shape[i] <= int.MaxValue ? (int)info.Shape[i] : throw new InvalidDataException($"Adapter tensor '{name}' has the dimension {info.Shape[i]}, too large for an adapter.");
        }

        tensor = new LoraSourceTensor(shape, view.ToSingle);
        return true;
    }
}
