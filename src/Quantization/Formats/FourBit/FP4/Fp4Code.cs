namespace Quantization.Formats;

/// <summary>
/// FP4, bitsandbytes' 4-bit float (<c>get_4bit_type("fp4")</c>): bit 3 is the sign, then 2 exponent bits and 1 mantissa
/// bit (bias 2, no infinities), divided by 12. Not sorted by value; codes 0 and 8 are +0 and −0.
/// </summary>
internal readonly struct Fp4Code : IFourBitCode
{
    public static QuantType Type => QuantType.FP4;

    public static ReadOnlySpan<float> Values =>
    [
        0f, 0.0625f / 12, 8f / 12, 12f / 12, 4f / 12, 6f / 12, 2f / 12, 3f / 12,
        -0f, -0.0625f / 12, -8f / 12, -12f / 12, -4f / 12, -6f / 12, -2f / 12, -3f / 12,
    ];
}
