using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>
/// How one float weight format widens its elements to float32 for <see cref="FloatDot{TWeights}"/>: exactly (every
/// F16 and BF16 value, subnormals, infinities and NaNs included, is a float32 value), in registers, on each path.
/// </summary>
internal interface IFloatWeights
{
    /// <summary>The weight format (F32, F16 or BF16).</summary>
    static abstract QuantType WeightType { get; }

    /// <summary>Bytes per element.</summary>
    static abstract int ElementBytes { get; }

    /// <summary>Element <paramref name="index"/> of the row at <paramref name="row"/>.</summary>
    static abstract float ToSingle(ref byte row, nint index);

    /// <summary>Elements <paramref name="index"/> … +15 (AVX-512F).</summary>
    static abstract Vector512<float> Load512(ref byte row, nint index);

    /// <summary>Elements <paramref name="index"/> … +7 (AVX2).</summary>
    static abstract Vector256<float> Load256(ref byte row, nint index);

    /// <summary>Elements <paramref name="index"/> … +7 as two vectors of four (SSE4.1 or NEON).</summary>
    static abstract (Vector128<float> Lower, Vector128<float> Upper) Load128(ref byte row, nint index);
}
