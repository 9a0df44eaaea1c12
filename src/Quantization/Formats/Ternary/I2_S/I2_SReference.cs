using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of I2_S, a port of bitnet.cpp's <c>quantize_i2_s</c> (x86, <c>ACT_PARALLEL</c> layout) and of its
/// <c>dequantize_row_i2_s</c>. The quantizer expects weights that are already ternary (absmean-quantized values
/// ±s and 0, as bitnet.cpp's converters write them): the tensor scale is max |x|, values with |x| &lt; 10⁻⁶ become 0 and
/// every other value ±1 by its sign. For raw weights see <see cref="Quantization.Ternary.BitNetQuantizer.QuantizeAbsMeanToI2S"/>.
/// bitnet.cpp's ARM build packs blocks of 64 values (byte j holds j, j + 16, j + 32, j + 48) instead; this is the x86 layout
/// on every processor.
/// </summary>
internal static class I2_SReference
{
    public const int BlockSize = 128;

    /// <summary>The float32 scale and 28 bytes of padding: bitnet.cpp sizes a tensor n/4 + 32 bytes.</summary>
    public const int TrailerBytes = 32;

    /// <summary>bitnet.cpp's zero test <c>fabs((double)x) &lt; 1e-6</c>.</summary>
    private const double ZeroThreshold = 1e-6;

    /// <summary>The tensor scale: max |x| (bitnet.cpp takes it in double, which is exact for floats), stored as float32.</summary>
    public static float TensorScale(ReadOnlySpan<float> tensor)
    {
        double max = 0;
        foreach (float v in tensor)
        {
            max = Math.Max(max, Math.Abs((double)v));
        }

        return (float)max;
    }

    public static void WriteTrailer(float scale, Span<byte> trailer)
    {
        BinaryPrimitives.WriteSingleLittleEndian(trailer, scale);
        trailer[sizeof(float)..TrailerBytes].Clear();
    }

    public static float ReadScale(ReadOnlySpan<byte> trailer) => BinaryPrimitives.ReadSingleLittleEndian(trailer);

    public static void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer) => WriteTrailer(TensorScale(tensor), trailer);

    /// <summary>The 2-bit code of one value: 1 when |x| &lt; 10⁻⁶, else 2 when x·scale &gt; 0 (in double), else 0.</summary>
    public static int Code(float x, float scale) =>
        Math.Abs((double)x) < ZeroThreshold ? 1 : (double)x * scale > 0 ? 2 : 0;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer)
    {
        float scale = ReadScale(trailer);
        Span<BlockI2_S> y = MemoryMarshal.Cast<byte, BlockI2_S>(destination);
        for (int i = 0; i < x.Length / BlockSize; i++)
        {
            y[i] = default;
            for (int j = 0; j < BlockSize; j++)
            {
                int group = j / 32, position = j % 32;
                y[i].Qs[position] |= (byte)(Code(x[i * BlockSize + j], scale) << (6 - 2 * group));
            }
        }
    }

    /// <summary>The value of each code: −1, 0, +1, and 0 for the unused code 3 (bitnet.cpp's <c>map2bit</c>).</summary>
    private static ReadOnlySpan<float> Values => [-1.0f, 0.0f, 1.0f, 0.0f];

    public static void Dequantize(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> y)
    {
        float scale = ReadScale(trailer);
        ReadOnlySpan<BlockI2_S> x = MemoryMarshal.Cast<byte, BlockI2_S>(blocks);
        for (int i = 0; i < x.Length; i++)
        {
            for (int j = 0; j < 32; j++)
            {
                byte b = x[i].Qs[j];
                y[i * BlockSize + j] = scale * Values[(b >> 6) & 3];
                y[i * BlockSize + 32 + j] = scale * Values[(b >> 4) & 3];
                y[i * BlockSize + 64 + j] = scale * Values[(b >> 2) & 3];
                y[i * BlockSize + 96 + j] = scale * Values[b & 3];
            }
        }
    }
}
