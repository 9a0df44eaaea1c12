namespace Quantization.Schemes;

/// <summary>
/// OCP 8-bit floating point E5M2 (docs/formats.md#fp8-e4m3fn-and-e5m2): largest finite magnitude 57344; ±∞ is S.11111.00 (0x7C / 0xFC), NaN is S.11111.xx with xx ≠ 00 (0x7F / 0xFF written).
/// </summary>
/// <remarks>
/// Encoding rounds to nearest, ties to even, with subnormals. NaN keeps its sign and is written as S.1111111. A value
/// whose rounding lands beyond the largest finite code, and ±∞, become ±max when saturating, ±∞ otherwise. Decoding is exact; a NaN code decodes to a
/// quiet NaN with the code's sign. The span overloads run Vector512, Vector256 or Vector128 (SSE, AdvSimd) code that gives
/// the same bytes and floats as the scalar overloads.
/// </remarks>
public static class Fp8E5M2
{
    /// <summary>The largest finite magnitude, 57344.</summary>
    public const float MaxValue = 57344f;

    /// <summary>Encodes <paramref name="value"/> (round to nearest even), saturating: overflow and ±∞ give ±<see cref="MaxValue"/>.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The code.</returns>
    public static byte FromSingle(float value) => FromSingle(value, saturate: true);

    /// <summary>Encodes <paramref name="value"/> (round to nearest even).</summary>
    /// <param name="value">The value.</param>
    /// <param name="saturate">Whether overflow and ±∞ give ±<see cref="MaxValue"/> instead of the encoding's overflow code.</param>
    /// <returns>The code.</returns>
    public static byte FromSingle(float value, bool saturate) => Fp8Reference.Encode<E5M2Encoding>(value, saturate);

    /// <summary>Decodes <paramref name="code"/> exactly.</summary>
    /// <param name="code">The code.</param>
    /// <returns>The value.</returns>
    public static float ToSingle(byte code) => Fp8Reference.Decode<E5M2Encoding>(code);

    /// <summary>Encodes every value of <paramref name="source"/> into <paramref name="destination"/>, saturating.</summary>
    /// <param name="source">The values.</param>
    /// <param name="destination">Exactly as many codes as <paramref name="source"/> has values.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<byte> destination) => FromSingle(source, destination, saturate: true);

    /// <summary>Encodes every value of <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <param name="source">The values.</param>
    /// <param name="destination">Exactly as many codes as <paramref name="source"/> has values.</param>
    /// <param name="saturate">Whether overflow and ±∞ give ±<see cref="MaxValue"/> instead of the encoding's overflow code.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<byte> destination, bool saturate)
    {
        if (destination.Length != source.Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has {destination.Length} bytes; source has {source.Length} values.");
        }

        Fp8Vector.Encode<E5M2Encoding>(source, destination, saturate);
    }

    /// <summary>Decodes every code of <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <param name="source">The codes.</param>
    /// <param name="destination">Exactly as many values as <paramref name="source"/> has codes.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void ToSingle(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (destination.Length != source.Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has {destination.Length} values; source has {source.Length} codes.");
        }

        Fp8Vector.Decode<E5M2Encoding>(source, destination);
    }
}
