using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of bitsandbytes' 4-bit quantizer (<c>quantize_4bit</c> of its default / CPU backend, which runs
/// the same torch code) and dequantizer, on one block of any length: the test oracle of the vector paths.
/// </summary>
/// <remarks>
/// <para>Quantize: absmax = max |x|; s = clamp(x · (1 / absmax), −1, 1) in float32 (bitsandbytes multiplies by the
/// float32 reciprocal, <c>A * (1 / absmax)</c>, it does not divide); the code is the argmin over the 16 codes of the
/// float32 distance |s − value|, the first code on equal distances. For NF4, whose codes are sorted, that is "the
/// nearest value, ties to the lower one"; for FP4 a tie goes to the lower code number.</para>
/// <para>One deliberate difference: an all-zero block (absmax 0) gets the codes of 0.0 (NF4 7, FP4 0), where
/// bitsandbytes' 0 · (1 / 0) = NaN gives code 0. Both decode to zero. A NaN s (0 · ∞, only when absmax is so small that
/// 1 / absmax overflows) gets code 0, as torch's argmin gives.</para>
/// <para>Dequantize: value[code] · absmax in float32.</para>
/// </remarks>
internal static class FourBitReference<TCode> where TCode : IFourBitCode
{
    /// <summary>bitsandbytes' argmin: the first code with the smallest float32 |s − value| (code 0 for NaN).</summary>
    public static byte Nearest(float s)
    {
        ReadOnlySpan<float> values = TCode.Values;
        int best = 0;
        float bestDistance = MathF.Abs(s - values[0]);
        for (int c = 1; c < 16; c++)
        {
            float distance = MathF.Abs(s - values[c]);
            if (distance < bestDistance)
            {
                best = c;
                bestDistance = distance;
            }
        }

        return (byte)best;
    }

    /// <summary>
    /// Quantizes one block of any length into ⌈n / 2⌉ bytes (element 2i in the high nibble of byte i; an odd last
    /// element's low nibble is the code of 0.0, as bitsandbytes pads) and returns its absmax.
    /// </summary>
    public static float QuantizeBlock(ReadOnlySpan<float> x, Span<byte> packed)
    {
        float absmax = 0;
        foreach (float v in x)
        {
            absmax = MathF.Max(absmax, MathF.Abs(v));
        }

        float id = absmax != 0 ? 1.0f / absmax : 0.0f;
        byte pad = Nearest(0f);
        for (int i = 0; i < x.Length; i += 2)
        {
            byte hi = Nearest(Math.Clamp(x[i] * id, -1f, 1f));
            byte lo = i + 1 < x.Length ? Nearest(Math.Clamp(x[i + 1] * id, -1f, 1f)) : pad;
            packed[i / 2] = (byte)((hi << 4) | lo);
        }

        return absmax;
    }

    /// <summary>Dequantizes one block of <c>y.Length</c> values from ⌈n / 2⌉ bytes.</summary>
    public static void DequantizeBlock(ReadOnlySpan<byte> packed, float absmax, Span<float> y)
    {
        ReadOnlySpan<float> values = TCode.Values;
        for (int i = 0; i < y.Length; i++)
        {
            byte b = packed[i / 2];
            y[i] = values[(i & 1) == 0 ? b >> 4 : b & 0xF] * absmax;
        }
    }

    /// <summary>Whole <see cref="BlockNF4"/> blocks of a row.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination)
    {
        Span<BlockNF4> y = MemoryMarshal.Cast<byte, BlockNF4>(destination);
        for (int i = 0; i < x.Length / BlockNF4.Values; i++)
        {
            y[i].Absmax = QuantizeBlock(x.Slice(i * BlockNF4.Values, BlockNF4.Values), y[i].Qs);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockNF4> x = MemoryMarshal.Cast<byte, BlockNF4>(source);
        for (int i = 0; i < x.Length; i++)
        {
            DequantizeBlock(x[i].Qs, x[i].Absmax, destination.Slice(i * BlockNF4.Values, BlockNF4.Values));
        }
    }
}
