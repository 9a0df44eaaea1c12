using Quantization.Kernels;

namespace Quantization.Schemes;

/// <summary>
/// The three verbs of a <see cref="QuantScheme"/>: byte count, quantize, dequantize, for a rows × columns matrix stored
/// row-major (docs/formats.md#scheme-layout). Rounding is half to even everywhere (the textbook's NumPy <c>round</c>).
/// </summary>
/// <remarks>
/// The vector paths give the bytes and floats of the scalar reference on every instruction set. Inputs must be finite; a
/// NaN or ±∞ is an <see cref="ArgumentException"/>. The bytes are those <see cref="SchemeMath"/> and
/// <see cref="SchemeMatrix"/> multiply by and <see cref="MatMulNBitsWeights"/> exports.
/// </remarks>
public static class SchemeQuantizer
{
    /// <summary>The bytes a rows × columns matrix takes in <paramref name="scheme"/>: codes, scales and zero points.</summary>
    /// <param name="scheme">The scheme.</param>
    /// <param name="rows">Rows (output channels), 0 or more.</param>
    /// <param name="columns">Columns (inputs), positive; a multiple of the group size for <see cref="SchemeGranularity.Group"/>.</param>
    /// <returns>The byte count.</returns>
    /// <exception cref="ArgumentException">The scheme is invalid or the shape does not fit it.</exception>
    public static long GetByteCount(QuantScheme scheme, int rows, int columns) => SchemeLayout.Create(scheme, rows, columns).TotalBytes;

    /// <summary>Quantizes <paramref name="source"/>, a rows × columns matrix, into <paramref name="destination"/>.</summary>
    /// <param name="scheme">The scheme.</param>
    /// <param name="source">Exactly rows · columns finite values, row-major.</param>
    /// <param name="rows">Rows (output channels).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <param name="destination">Exactly <see cref="GetByteCount"/> bytes.</param>
    /// <exception cref="ArgumentException">A length is wrong, the shape does not fit the scheme, or a value is not finite.</exception>
    public static void Quantize(QuantScheme scheme, ReadOnlySpan<float> source, int rows, int columns, Span<byte> destination)
    {
        SchemeLayout layout = Validate(scheme, source.Length, rows, columns, nameof(source));
        layout.ThrowIfWrongByteCount(destination.Length, nameof(destination));
        SchemeKernel.Quantize(layout, source, destination); // checks that every value is finite before writing

    }

    /// <summary>Dequantizes <paramref name="source"/> (the bytes of a rows × columns matrix) into <paramref name="destination"/>.</summary>
    /// <param name="scheme">The scheme.</param>
    /// <param name="source">Exactly <see cref="GetByteCount"/> bytes.</param>
    /// <param name="rows">Rows (output channels).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <param name="destination">Exactly rows · columns values.</param>
    /// <exception cref="ArgumentException">A length is wrong or the shape does not fit the scheme.</exception>
    public static void Dequantize(QuantScheme scheme, ReadOnlySpan<byte> source, int rows, int columns, Span<float> destination)
    {
        SchemeLayout layout = Validate(scheme, destination.Length, rows, columns, nameof(destination));
        layout.ThrowIfWrongByteCount(source.Length, nameof(source));
        SchemeKernel.Dequantize(layout, source, destination);
    }

    internal static SchemeLayout Validate(QuantScheme scheme, int values, int rows, int columns, string valuesName)
    {
        SchemeLayout layout = SchemeLayout.Create(scheme, rows, columns);
        if (values != (long)rows * columns)
        {
            ThrowHelper.ThrowArgument(valuesName, $"{valuesName} has {values} values; {rows} × {columns} is {(long)rows * columns}.");
        }

        return layout;
    }
}
