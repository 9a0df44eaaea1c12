using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>
/// How one float weight format widens its elements to float32 for <see cref="FloatDot{TWeights}"/>, in registers, on
/// each path: exactly for every finite value (every F16 and BF16 value is a float32 value), up to the power of two
/// <see cref="ActivationScale"/>. A format whose vector
/// widening does not carry infinities and NaNs through (F16) records the magnitudes it loaded in
/// <c>magnitudes</c>, and <see cref="IsFinite(Vector128{ushort})"/> tells the driver whether the row needs the exact
/// reference instead; the other formats leave it alone.
/// </summary>
internal interface IFloatWeights
{
    /// <summary>The weight format (F32, F16 or BF16).</summary>
    static abstract QuantType WeightType { get; }

    /// <summary>Bytes per element.</summary>
    static abstract int ElementBytes { get; }

    /// <summary>
    /// The factor the vector loads leave out (1, or 2¹¹² for F16): each loaded value times it is the element, and the
    /// driver multiplies each activation vector by it once for all the rows of a group instead.
    /// </summary>
    static abstract float ActivationScale { get; }

    /// <summary>Element <paramref name="index"/> of the row at <paramref name="row"/>.</summary>
    static abstract float ToSingle(ref byte row, nint index);

    /// <summary>Elements <paramref name="index"/> … +15 (AVX-512F).</summary>
    static abstract Vector512<float> Load512(ref byte row, nint index, ref Vector256<ushort> magnitudes);

    /// <summary>Elements <paramref name="index"/> … +7 (AVX2).</summary>
    static abstract Vector256<float> Load256(ref byte row, nint index, ref Vector128<ushort> magnitudes);

    /// <summary>Elements <paramref name="index"/> … +7 as two vectors of four (SSE4.1 or NEON).</summary>
    static abstract (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index, ref Vector128<ushort> magnitudes);

    /// <summary>Whether the values recorded in <paramref name="magnitudes"/> were all widened exactly.</summary>
    static abstract bool IsFinite(Vector128<ushort> magnitudes);

    /// <inheritdoc cref="IsFinite(Vector128{ushort})"/>
    static abstract bool IsFinite(Vector256<ushort> magnitudes);
}
