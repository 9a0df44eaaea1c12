using System.Buffers.Binary;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of I8_S, bitnet.cpp's per-token int8 activations (<c>quantize_row_i8_s</c>): over the whole tensor
/// (one token), <c>max = max(1e-5, max|x|)</c> in double, <c>s = (float)(127 / max)</c>,
/// <c>q = clamp(nearest_int(x·s), −128, 127)</c> with x·s a float32 product rounded half to even, and Σq. The codes are
/// one byte per value; the trailer after them holds s (float32, offset 0) and Σq (int32, offset 4), zero-padded to
/// <see cref="TrailerBytes"/> so that a row of a multiple of 32 values keeps the next one 32-byte aligned.
/// </summary>
internal static class I8_SReference
{
    /// <summary>Scale, code sum and 24 zero bytes.</summary>
    public const int TrailerBytes = 32;

    /// <summary>bitnet.cpp's floor of max|x|, which keeps s finite for an all-zero token.</summary>
    public const double MinMagnitude = 0.00001;

    public static float Scale(ReadOnlySpan<float> x)
    {
        double max = MinMagnitude;
        foreach (float v in x)
        {
            max = Math.Max(max, Math.Abs((double)v));
        }

        return (float)(127.0 / max);
    }

    public static int Code(float x, float s) => Math.Clamp(Rounding.NearestInt(x * s), -128, 127);

    public static void WriteTrailer(float scale, int sum, Span<byte> trailer)
    {
        BinaryPrimitives.WriteSingleLittleEndian(trailer, scale);
        BinaryPrimitives.WriteInt32LittleEndian(trailer[sizeof(float)..], sum);
        trailer[(2 * sizeof(float))..TrailerBytes].Clear();
    }

    public static float ReadScale(ReadOnlySpan<byte> trailer) => BinaryPrimitives.ReadSingleLittleEndian(trailer);

    public static int ReadSum(ReadOnlySpan<byte> trailer) => BinaryPrimitives.ReadInt32LittleEndian(trailer[sizeof(float)..]);

    public static void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer)
    {
        float s = Scale(tensor);
        int sum = 0;
        foreach (float v in tensor)
        {
            sum += Code(v, s);
        }

        WriteTrailer(s, sum, trailer);
    }

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer)
    {
        float s = ReadScale(trailer);
        for (int i = 0; i < x.Length; i++)
        {
            destination[i] = (byte)(sbyte)Code(x[i], s);
        }
    }

    /// <summary>q / s, a division as the scale's definition reads (bitnet.cpp never dequantizes activations).</summary>
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> trailer, Span<float> y)
    {
        float s = ReadScale(trailer);
        for (int i = 0; i < codes.Length; i++)
        {
            y[i] = (sbyte)codes[i] / s;
        }
    }
}
