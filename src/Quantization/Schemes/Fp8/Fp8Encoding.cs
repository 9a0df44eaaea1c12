using System.Runtime.CompilerServices;

namespace Quantization.Schemes;

/// <summary>
/// The constants of one OCP 8-bit floating-point encoding (docs/formats.md#fp8-e4m3fn-and-e5m2): sign, exponent and
/// mantissa fields, the exponent bias, the largest finite code and what the all-ones exponent means.
/// </summary>
internal interface IFp8Encoding
{
    /// <summary>Mantissa bits (3 for E4M3FN, 2 for E5M2).</summary>
    static abstract int MantissaBits { get; }

    /// <summary>Exponent bias (7 for E4M3FN, 15 for E5M2).</summary>
    static abstract int Bias { get; }

    /// <summary>The largest finite magnitude code (0x7E: 448; 0x7B: 57344).</summary>
    static abstract int MaxFiniteCode { get; }

    /// <summary>The largest finite magnitude.</summary>
    static abstract float MaxFinite { get; }

    /// <summary>Whether the encoding has ±∞ (E5M2: S.11111.00) or only NaN (E4M3FN: S.1111.111).</summary>
    static abstract bool HasInfinity { get; }
}

/// <summary>E4M3FN: 4 exponent bits (bias 7), 3 mantissa bits, no infinity, NaN = S.1111.111, largest 448.</summary>
internal readonly struct E4M3Encoding : IFp8Encoding
{
    public static int MantissaBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 3;
    }

    public static int Bias
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 7;
    }

    public static int MaxFiniteCode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 0x7E;
    }

    public static float MaxFinite => 448f;

    public static bool HasInfinity => false;
}

/// <summary>E5M2: 5 exponent bits (bias 15), 2 mantissa bits, ±∞ = S.11111.00, NaN = S.11111.{01,10,11}, largest 57344.</summary>
internal readonly struct E5M2Encoding : IFp8Encoding
{
    public static int MantissaBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 2;
    }

    public static int Bias
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 15;
    }

    public static int MaxFiniteCode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 0x7B;
    }

    public static float MaxFinite => 57344f;

    public static bool HasInfinity => true;
}

/// <summary>Constants derived from an <see cref="IFp8Encoding"/>; the JIT folds them per instantiation.</summary>
internal static class Fp8Constants<T>
    where T : struct, IFp8Encoding
{
    /// <summary>Float32 mantissa bits dropped by the conversion.</summary>
    public static int Shift
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 23 - T.MantissaBits;
    }

    /// <summary>Difference of the float32 and FP8 exponent biases, in float32 exponent units.</summary>
    public static int Rebias
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (127 - T.Bias) << 23;
    }

    /// <summary>Float32 bits of the smallest normal FP8 magnitude, 2^(1 − bias): below it the code is subnormal.</summary>
    public static int MinNormalBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (127 + 1 - T.Bias) << 23;
    }

    /// <summary>
    /// Float32 bits of 2^(24 − bias − mantissa bits): adding it to a subnormal-range magnitude rounds (to nearest even,
    /// in the floating-point adder) to a multiple of the FP8 subnormal step, whose count is the code.
    /// </summary>
    public static int SubnormalMagicBits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (127 + 24 - T.Bias - T.MantissaBits) << 23;
    }

    /// <summary>The code of ±∞ (E5M2) or NaN (E4M3FN) without its sign: what a non-saturating overflow gives.</summary>
    public static int OverflowCode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => T.HasInfinity ? 0x7C : 0x7F;
    }

    /// <summary>The NaN code without its sign (all exponent and mantissa bits set in both encodings).</summary>
    public static int NaNCode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => 0x7F;
    }

    /// <summary>Float32 bits of the quiet NaN a NaN code decodes to (sign added separately).</summary>
    public const int DecodedNaNBits = 0x7FC00000;
}
