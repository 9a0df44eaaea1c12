using System.Runtime.CompilerServices;

namespace Quantization.Schemes;

/// <summary>
/// The scalar reference of the FP8 conversions (docs/formats.md#fp8-e4m3fn-and-e5m2): float32 → FP8 with round to
/// nearest, ties to even, and FP8 → float32 exactly. The vector paths of <see cref="Fp8Vector"/> equal it bit for bit.
/// </summary>
internal static class Fp8Reference
{
    /// <summary>
    /// Encodes <paramref name="value"/>. NaN keeps its sign and becomes S.1111111. A finite value whose rounding lands
    /// beyond the largest finite code overflows: saturating, to ±max; otherwise to ±∞ (E5M2) or NaN (E4M3FN). ±∞ gives
    /// ±max when saturating, else ±∞ (E5M2) or NaN (E4M3FN).
    /// </summary>
    public static byte Encode<T>(float value, bool saturate)
        where T : struct, IFp8Encoding
    {
        int bits = BitConverter.SingleToInt32Bits(value);
        int sign = (int)((uint)bits >> 24) & 0x80;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000)
        {
            return (byte)(sign | Fp8Constants<T>.NaNCode);
        }

        int code;
        if (abs < Fp8Constants<T>.MinNormalBits)
        {
            // Subnormal range: the magnitude counted in subnormal steps 2^(1 − bias − m), an exact power-of-two scaling,
            // rounded to nearest even. A count of 2^m is the smallest normal code, which the layout gives for free.
            float steps = BitConverter.Int32BitsToSingle(abs) * MathF.ScaleB(1f, T.Bias - 1 + T.MantissaBits);
            code = (int)MathF.Round(steps, MidpointRounding.ToEven);
        }
        else
        {
            // Normal range: round the float32 mantissa to m bits (ties to even) on the bits, carry into the exponent,
            // then re-bias the exponent.
            int shift = Fp8Constants<T>.Shift;
            int rounded = abs + ((1 << (shift - 1)) - 1) + ((abs >> shift) & 1);
            code = (rounded - Fp8Constants<T>.Rebias) >> shift;
        }

        if (code > T.MaxFiniteCode)
        {
            code = saturate ? T.MaxFiniteCode : Fp8Constants<T>.OverflowCode;
        }

        return (byte)(sign | code);
    }

    /// <summary>Decodes <paramref name="code"/> exactly: subnormals, ±0, ±∞ (E5M2) and NaN (sign kept, quiet NaN payload).</summary>
    public static float Decode<T>(byte code)
        where T : struct, IFp8Encoding
    {
        int m = T.MantissaBits;
        int magnitude = code & 0x7F;
        int exponent = magnitude >> m;
        int mantissa = magnitude & ((1 << m) - 1);
        int exponentMax = (0x7F >> m);
        float value;
        if (T.HasInfinity && exponent == exponentMax)
        {
            value = mantissa == 0 ? float.PositiveInfinity : BitConverter.Int32BitsToSingle(Fp8Constants<T>.DecodedNaNBits);
        }
        else if (!T.HasInfinity && magnitude == 0x7F)
        {
            value = BitConverter.Int32BitsToSingle(Fp8Constants<T>.DecodedNaNBits);
        }
        else if (exponent == 0)
        {
            value = MathF.ScaleB(mantissa, 1 - T.Bias - m);
        }
        else
        {
            value = MathF.ScaleB((1 << m) + mantissa, exponent - T.Bias - m);
        }

        return (code & 0x80) != 0 ? Negate(value) : value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Negate(float value) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(value) | int.MinValue);

    /// <summary>The 256 decoded values, indexed by code.</summary>
    public static float[] DecodeTable<T>()
        where T : struct, IFp8Encoding
    {
        var table = new float[256];
        for (int c = 0; c < 256; c++)
        {
            table[c] = Decode<T>((byte)c);
        }

        return table;
    }
}
