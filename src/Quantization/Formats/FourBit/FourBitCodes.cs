using System.Runtime.CompilerServices;

namespace Quantization.Formats;

/// <summary>A 16-entry 4-bit code book of bitsandbytes: the value of each code, in code order.</summary>
internal interface IFourBitCode
{
    static abstract QuantType Type { get; }

    /// <summary>The value of code 0..15 (bitsandbytes' <c>get_4bit_type</c>, float32).</summary>
    static abstract ReadOnlySpan<float> Values { get; }
}

/// <summary>
/// Tables derived once from a code book for the vector quantizer: the codes in value order ("levels") and, between
/// neighbouring levels, the float threshold above which the reference rule (<see cref="FourBitReference{TCode}.Nearest"/>,
/// bitsandbytes' float32 argmin) picks the upper level. For every float s the reference's code is
/// LevelCode[number of thresholds below s]; tests check it on every tier.
/// </summary>
internal static class FourBitTables<TCode> where TCode : IFourBitCode
{
    /// <summary>
    /// The 15 thresholds, ascending, and a 16th slot so the table fills one 512-bit register; unused slots (FP4 has 15
    /// distinct values, so 14 thresholds) are +∞.
    /// </summary>
    public static readonly float[] Thresholds = new float[16];

    /// <summary>Level (0..15) → code; 16 bytes so it can be a byte shuffle table.</summary>
    public static readonly byte[] LevelCode = new byte[16];

    /// <summary>The code of 0.0: what an all-zero block and the padding nibble hold (NF4 7, FP4 0).</summary>
    public static readonly byte ZeroCode = FourBitReference<TCode>.Nearest(0f);

    static FourBitTables()
    {
        ReadOnlySpan<float> values = TCode.Values;

        // Codes in ascending value order; of equal values (FP4's ±0) only the one the argmin returns, the first.
        var order = new List<byte>();
        for (int c = 0; c < 16; c++)
        {
            if (FourBitReference<TCode>.Nearest(values[c]) == c)
            {
                order.Add((byte)c);
            }
        }

        order.Sort((a, b) => TCode.Values[a].CompareTo(TCode.Values[b]));
        LevelCode.AsSpan().Fill(order[^1]);
        order.CopyTo(LevelCode);
        Thresholds.AsSpan().Fill(float.PositiveInfinity);
        for (int k = 0; k + 1 < order.Count; k++)
        {
            Thresholds[k] = LastOfLower(values[order[k]], values[order[k + 1]], order[k]);
        }
    }

    /// <summary>
    /// The largest float in [lo, hi) that the reference maps to <paramref name="lowerCode"/>: a bisection over the
    /// floats between two neighbouring levels (the choice between them is monotonic in s).
    /// </summary>
    private static float LastOfLower(float lo, float hi, byte lowerCode)
    {
        long a = Key(lo), b = Key(hi); // Nearest(a) is the lower code, Nearest(b) is not
        while (b - a > 1)
        {
            long m = a + (b - a) / 2;
            if (FourBitReference<TCode>.Nearest(FromKey(m)) == lowerCode)
            {
                a = m;
            }
            else
            {
                b = m;
            }
        }

        return FromKey(a);
    }

    /// <summary>A signed integer that orders floats as their values (−0 just below +0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Key(float f)
    {
        int bits = BitConverter.SingleToInt32Bits(f);
        return bits >= 0 ? bits : -(long)(bits & 0x7FFFFFFF) - 1;
    }

    private static float FromKey(long key) =>
        BitConverter.Int32BitsToSingle(key >= 0 ? (int)key : (int)(-(key + 1)) | int.MinValue);
}
