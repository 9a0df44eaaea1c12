namespace Quantization.Lora;

/// <summary>
/// One tensor of an adapter checkpoint as the PEFT mapping reads it: a shape (outermost dimension first, as PyTorch
/// and safetensors give it) and a way to get the values as float32, either memory already holding them or a callback
/// that converts the stored type (F16, BF16, ...) into the buffer it is given.
/// </summary>
public sealed class LoraSourceTensor
{
    private readonly int[] _shape;
    private readonly ReadOnlyMemory<float> _data;
    private readonly Action<Span<float>>? _read;

    /// <summary>A tensor whose values are already float32.</summary>
    /// <param name="shape">The dimensions, outermost first; each non-negative.</param>
    /// <param name="data">Exactly the product of <paramref name="shape"/> values, row-major.</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the length does not match the shape.</exception>
    public LoraSourceTensor(ReadOnlySpan<int> shape, ReadOnlyMemory<float> data)
    {
        _shape = CheckShape(shape, out long count);
        if (data.Length != count)
        {
            ThrowHelper.ThrowArgument(nameof(data), $"{data.Length} values given; the shape [{string.Join(", ", _shape.ToArray())}] holds {count}.");
        }

        ElementCount = count;
        _data = data;
    }

    /// <summary>A tensor read on demand: <paramref name="read"/> fills a span of exactly <see cref="ElementCount"/> floats.</summary>
    /// <param name="shape">The dimensions, outermost first; each non-negative.</param>
    /// <param name="read">Writes the values, row-major, converted to float32.</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the values would not fit one span.</exception>
    public LoraSourceTensor(ReadOnlySpan<int> shape, Action<Span<float>> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        _shape = CheckShape(shape, out long count);
        ElementCount = count;
        _read = read;
    }

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The number of values.</summary>
    public long ElementCount { get; }

    /// <summary>Writes the values, row-major, into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not exactly <see cref="ElementCount"/> long.</exception>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != ElementCount)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"The destination has {destination.Length} values; the tensor has {ElementCount}.");
        }

        if (_read is not null)
        {
            _read(destination);
        }
        else
        {
            _data.Span.CopyTo(destination);
        }
    }

    private static int[] CheckShape(ReadOnlySpan<int> shape, out long count)
    {
        count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                ThrowHelper.ThrowArgument(nameof(shape), "Dimensions must be non-negative.");
            }

            count *= d;
            if (count > Array.MaxLength)
            {
                ThrowHelper.ThrowArgument(nameof(shape), "The tensor has more values than one array holds.");
            }
        }

        return shape.ToArray();
    }
}
