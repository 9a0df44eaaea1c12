using System.Buffers;
using Quantization.Gguf;

namespace Quantization.Cli.Gguf;

/// <summary>Reads <paramref name="count"/> rows from row <paramref name="first"/> as floats into <paramref name="destination"/>.</summary>
internal delegate void RowReader(long first, int count, Span<float> destination);

/// <summary>
/// Quantizes a tensor into a <see cref="GgufWriter"/> a slab of rows at a time (16 MiB of floats), whatever its source:
/// the converters' bounded-memory loop.
/// </summary>
internal static class SlabQuantizer
{
    /// <summary>Float values per slab of rows read and quantized at once; a row longer than this is not quantized.</summary>
    public const int SlabValues = 1 << 22;

    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="rowLength"/> values to <paramref name="target"/> and writes them.</summary>
    /// <exception cref="InvalidDataException">The quantizer refuses the values (for example non-finite ones).</exception>
    public static void Write(long rows, int rowLength, RowReader read, QuantFormat target, float[]? importance, int threads, GgufWriter writer, string name)
    {
        int rowsPerSlab = Math.Max(1, SlabValues / rowLength);
        long outRowBytes = rowLength / target.BlockSize * (long)target.BytesPerBlock;
        float[] floats = ArrayPool<float>.Shared.Rent(rowsPerSlab * rowLength);
        byte[] bytes = ArrayPool<byte>.Shared.Rent((int)(rowsPerSlab * outRowBytes));
        try
        {
            for (long row = 0; row < rows; row += rowsPerSlab)
            {
                int count = (int)Math.Min(rowsPerSlab, rows - row);
                Span<float> values = floats.AsSpan(0, count * rowLength);
                read(row, count, values);
                Span<byte> destination = bytes.AsSpan(0, (int)(count * outRowBytes));
                try
                {
                    Quantizer.QuantizeParallel(target.Type, values, destination, rowLength, importance, threads);
                }
                catch (ArgumentException ex)
                {
                    throw new InvalidDataException($"Tensor '{name}' cannot be quantized: {ex.Message}", ex);
                }

                writer.WriteTensorData(destination);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
