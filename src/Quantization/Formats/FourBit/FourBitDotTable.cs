using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>
/// A 4-bit code book as int16 for the integer dot: <c>T[c] = round(code_c · 2^14)</c>, half away from zero. Every code
/// lies in [−1, 1], so |T| ≤ 16384 and each is within 2^−15 of the exact code; the scale is a power of two, so multiplying
/// the integer sums back by 2^−14 is exact.
/// </summary>
internal static class FourBitDotTable<TCode> where TCode : IFourBitCode
{
    /// <summary>The binary point of the table: codes are stored times 2^14.</summary>
    public const int Shift = 14;

    /// <summary>2^−14, the factor that turns table units back into code units.</summary>
    public const float Unit = 1.0f / (1 << Shift);

    /// <summary>T[code] for code 0..15.</summary>
    public static readonly short[] Values = Build();

    /// <summary>The low bytes of T, as a byte-shuffle table.</summary>
    public static readonly Vector128<byte> LowBytes = Plane(0);

    /// <summary>The high bytes of T, as a byte-shuffle table.</summary>
    public static readonly Vector128<byte> HighBytes = Plane(8);

    /// <summary><see cref="LowBytes"/> in both 128-bit lanes (AVX2 shuffles within lanes).</summary>
    public static readonly Vector256<byte> LowBytes256 = Vector256.Create(LowBytes, LowBytes);

    /// <summary><see cref="HighBytes"/> in both 128-bit lanes.</summary>
    public static readonly Vector256<byte> HighBytes256 = Vector256.Create(HighBytes, HighBytes);

    /// <summary>
    /// T twice (32 words) for a word permute (<c>vpermw</c>), which reads the low 5 bits of each index: a code byte's low
    /// nibble and the bit above it land on the same entry as the low nibble alone.
    /// </summary>
    public static readonly Vector512<short> Words = Vector512.Create(Vector256.Create(Values), Vector256.Create(Values));

    private static short[] Build()
    {
        var table = new short[16];
        for (int c = 0; c < 16; c++)
        {
            // code·2^14 is exact in float (a power-of-two scale), so this is one rounding of the exact product.
            table[c] = (short)Math.Round(TCode.Values[c] * (float)(1 << Shift), MidpointRounding.AwayFromZero);
        }

        return table;
    }

    private static Vector128<byte> Plane(int shift)
    {
        Span<byte> bytes = stackalloc byte[16];
        for (int c = 0; c < 16; c++)
        {
            bytes[c] = (byte)(Values[c] >> shift);
        }

        return Vector128.Create((ReadOnlySpan<byte>)bytes);
    }
}
