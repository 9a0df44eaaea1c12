using System.Runtime.Intrinsics;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Schemes;

/// <summary>
/// FP8 E4M3FN and E5M2 against an independent model of the OCP formats: decoding from the field definitions, encoding
/// by exhaustive search of the nearest code in double precision with an explicit tie rule, and the vector paths against
/// the scalar conversions on every class of input.
/// </summary>
public sealed class Fp8Tests
{
    /// <summary>An FP8 format described by its fields only, independently of the library's constants.</summary>
    public sealed record Format(string Name, int ExponentBits, int MantissaBits, bool HasInfinity)
    {
        public int Bias => (1 << (ExponentBits - 1)) - 1;

        public override string ToString() => Name;

        private double[]? _values;
        private int _maxCode = -1;

        /// <summary>The value of a code (computed once per format: the searches below run under emulation too).</summary>
        public double Value(int code) => (_values ??= [.. Enumerable.Range(0, 256).Select(FieldValue)])[code];

        /// <summary>The value of a code from the field definitions; NaN for NaN codes, ±∞ for infinity codes.</summary>
        private double FieldValue(int code)
        {
            int sign = code >> 7;
            int exponent = (code >> MantissaBits) & ((1 << ExponentBits) - 1);
            int mantissa = code & ((1 << MantissaBits) - 1);
            int exponentMax = (1 << ExponentBits) - 1;
            double magnitude;
            if (HasInfinity && exponent == exponentMax)
            {
                magnitude = mantissa == 0 ? double.PositiveInfinity : double.NaN;
            }
            else if (!HasInfinity && exponent == exponentMax && mantissa == (1 << MantissaBits) - 1)
            {
                magnitude = double.NaN;
            }
            else if (exponent == 0)
            {
                magnitude = mantissa / (double)(1 << MantissaBits) * Math.Pow(2, 1 - Bias);
            }
            else
            {
                magnitude = (1 + mantissa / (double)(1 << MantissaBits)) * Math.Pow(2, exponent - Bias);
            }

            return sign == 1 ? -magnitude : magnitude;
        }

        /// <summary>The largest finite positive code.</summary>
        public int MaxCode => _maxCode >= 0 ? _maxCode : (_maxCode = Enumerable.Range(0, 128).Where(c => double.IsFinite(Value(c))).Max());

        /// <summary>
        /// The code of x by exhaustive search: the nearest finite code of x's sign in double arithmetic; at a tie, the
        /// code with an even mantissa. Beyond the largest code the next value of the same spacing stands for overflow:
        /// nearer to it (or tied with it, its mantissa being even) means overflow, which gives the largest code when
        /// saturating and ∞ (E5M2) or NaN (E4M3FN) otherwise. ±∞ saturate to ±max or stay ±∞ / become NaN; NaN gives S.1111111.
        /// </summary>
        public int Encode(float x, bool saturate)
        {
            int sign = BitConverter.SingleToInt32Bits(x) < 0 ? 0x80 : 0;
            if (float.IsNaN(x))
            {
                return sign | 0x7F;
            }

            int overflowCode = HasInfinity ? 0x7C : 0x7F;
            if (float.IsInfinity(x))
            {
                return sign | (saturate ? MaxCode : overflowCode);
            }

            double a = Math.Abs((double)x);
            int best = 0;
            double bestDistance = double.MaxValue;
            for (int c = 0; c <= MaxCode; c++)
            {
                double d = Math.Abs(Value(c) - a);
                if (d < bestDistance || (d == bestDistance && (c & 1) == 0))
                {
                    best = c;
                    bestDistance = d;
                }
            }

            double max = Value(MaxCode);
            double beyond = max + (max - Value(MaxCode - 1)); // the first value past the largest, same spacing
            double overflowDistance = Math.Abs(beyond - a);
            bool overflow = a >= beyond || overflowDistance < bestDistance || (overflowDistance == bestDistance && best == MaxCode && (MaxCode & 1) == 1);
            if (overflow)
            {
                return sign | (saturate ? MaxCode : overflowCode);
            }

            return sign | best;
        }
    }

    public static readonly Format E4M3 = new("E4M3FN", 4, 3, HasInfinity: false);
    public static readonly Format E5M2 = new("E5M2", 5, 2, HasInfinity: true);

    public static TheoryData<string> Formats => new("E4M3FN", "E5M2");

    private static Format Get(string name) => name == "E4M3FN" ? E4M3 : E5M2;

    private static byte Encode(string name, float x, bool saturate) =>
        name == "E4M3FN" ? Fp8E4M3.FromSingle(x, saturate) : Fp8E5M2.FromSingle(x, saturate);

    private static float Decode(string name, byte code) => name == "E4M3FN" ? Fp8E4M3.ToSingle(code) : Fp8E5M2.ToSingle(code);

    [Theory]
    [MemberData(nameof(Formats))]
    public void EveryCodeDecodesToItsFieldValue(string name)
    {
        Format format = Get(name);
        for (int code = 0; code < 256; code++)
        {
            double expected = format.Value(code);
            float actual = Decode(name, (byte)code);
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(actual), $"code 0x{code:X2} should be NaN, got {actual}");
                Assert.Equal(code >> 7, BitConverter.SingleToInt32Bits(actual) >>> 31); // the sign is kept
            }
            else
            {
                Assert.True((double)actual == expected, $"code 0x{code:X2}: expected {expected}, got {actual}");
                Assert.Equal(code >> 7, BitConverter.SingleToInt32Bits(actual) >>> 31); // ±0 keep their sign
            }
        }
    }

    [Fact]
    public void SpecialCodesAreWhereTheFormatsPutThem()
    {
        Assert.Equal(448f, Fp8E4M3.ToSingle(0x7E));
        Assert.True(float.IsNaN(Fp8E4M3.ToSingle(0x7F)) && float.IsNaN(Fp8E4M3.ToSingle(0xFF)));
        Assert.Equal(240f, Fp8E4M3.ToSingle(0x77)); // S.1110.111: E4M3FN uses the all-ones exponent for finite values
        Assert.Equal(0.001953125f, Fp8E4M3.ToSingle(0x01)); // smallest subnormal 2^-9
        Assert.Equal(57344f, Fp8E5M2.ToSingle(0x7B));
        Assert.Equal(float.PositiveInfinity, Fp8E5M2.ToSingle(0x7C));
        Assert.Equal(float.NegativeInfinity, Fp8E5M2.ToSingle(0xFC));
        Assert.True(float.IsNaN(Fp8E5M2.ToSingle(0x7D)) && float.IsNaN(Fp8E5M2.ToSingle(0x7E)) && float.IsNaN(Fp8E5M2.ToSingle(0x7F)));
        Assert.Equal(1.52587890625e-05f, Fp8E5M2.ToSingle(0x01)); // smallest subnormal 2^-16
        Assert.Equal(448f, Fp8E4M3.MaxValue);
        Assert.Equal(57344f, Fp8E5M2.MaxValue);
    }

    [Fact]
    public void TiesRoundToEven()
    {
        // E4M3FN: 1.0625 lies between 1.0 (0x38) and 1.125 (0x39): even mantissa 0x38. 1.1875 between 0x39 and 1.25 (0x3A): 0x3A.
        Assert.Equal(0x38, Fp8E4M3.FromSingle(1.0625f));
        Assert.Equal(0x3A, Fp8E4M3.FromSingle(1.1875f));
        Assert.Equal(0xBA, Fp8E4M3.FromSingle(-1.1875f));
        // Subnormal ties: half the smallest subnormal goes to 0, 1.5 steps to 2 steps, 2.5 steps to 2 steps.
        Assert.Equal(0x00, Fp8E4M3.FromSingle(0.0009765625f));
        Assert.Equal(0x02, Fp8E4M3.FromSingle(0.0029296875f));
        Assert.Equal(0x02, Fp8E4M3.FromSingle(0.0048828125f));
        // The tie between the largest subnormal (7·2^-9) and the smallest normal (2^-6) goes to the normal (even).
        Assert.Equal(0x08, Fp8E4M3.FromSingle(7.5f / 512));
        // 464 lies between 448 (mantissa 110, even) and the first value past it: 448.
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(464f, saturate: false));
        Assert.Equal(0x7F, Fp8E4M3.FromSingle(464.0001f, saturate: false));
        // E5M2: 1.125 between 1.0 (0x3C) and 1.25 (0x3D): 0x3C; 61440 between 57344 (odd) and 65536: overflow.
        Assert.Equal(0x3C, Fp8E5M2.FromSingle(1.125f));
        Assert.Equal(0x7B, Fp8E5M2.FromSingle(61439.996f, saturate: false));
        Assert.Equal(0x7C, Fp8E5M2.FromSingle(61440f, saturate: false));
    }

    [Fact]
    public void OverflowInfinityAndNaNFollowThePolicy()
    {
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(1000f));
        Assert.Equal(0x7F, Fp8E4M3.FromSingle(1000f, saturate: false));
        Assert.Equal(0xFE, Fp8E4M3.FromSingle(float.NegativeInfinity));
        Assert.Equal(0xFF, Fp8E4M3.FromSingle(float.NegativeInfinity, saturate: false));
        Assert.Equal(0x7F, Fp8E4M3.FromSingle(float.NaN, saturate: true) & 0x7F);
        Assert.Equal(0x7B, Fp8E5M2.FromSingle(1e6f));
        Assert.Equal(0x7C, Fp8E5M2.FromSingle(1e6f, saturate: false));
        Assert.Equal(0xFB, Fp8E5M2.FromSingle(float.NegativeInfinity));
        Assert.Equal(0xFC, Fp8E5M2.FromSingle(float.NegativeInfinity, saturate: false));
        Assert.Equal(0x7F, Fp8E5M2.FromSingle(float.NaN, saturate: false) & 0x7F);
        Assert.Equal(0x80, Fp8E5M2.FromSingle(-0f));
        Assert.Equal(0x80, Fp8E4M3.FromSingle(-1e-30f));
    }

    /// <summary>Every code's value, every midpoint between neighbours and the floats next to it, and values across all float exponents.</summary>
    public static float[] InterestingValues(Format format, ulong seed)
    {
        var values = new List<float>();
        var finite = Enumerable.Range(0, 128).Select(format.Value).Where(double.IsFinite).OrderBy(v => v).ToList();
        double max = finite[^1];
        finite.Add(max + (max - finite[^2]));
        for (int i = 0; i < finite.Count; i++)
        {
            values.Add((float)finite[i]);
            if (i + 1 < finite.Count)
            {
                float mid = (float)((finite[i] + finite[i + 1]) / 2); // exact in float: a few more bits than the format
                values.Add(mid);
                values.Add(MathF.BitDecrement(mid));
                values.Add(MathF.BitIncrement(mid));
            }
        }

        values.AddRange([0f, float.Epsilon, 1e-40f, 1e-30f, 1e-10f, 1e10f, 1e30f, float.MaxValue, float.PositiveInfinity, float.NaN, 3e38f]);
        var random = new Random((int)seed);
        for (int i = 0; i < 2000; i++)
        {
            // Uniform float bit patterns (every exponent), and values spread over the format's own range.
            values.Add(BitConverter.Int32BitsToSingle(random.Next() & 0x7FFFFFFF));
            values.Add((float)(Math.Pow(2, random.NextDouble() * 40 - 24) * (1 + random.NextDouble())));
        }

        return [.. values, .. values.Select(v => -v)];
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void EncodingIsTheNearestCodeWithTiesToEven(string name)
    {
        Format format = Get(name);
        foreach (bool saturate in new[] { true, false })
        {
            foreach (float x in InterestingValues(format, 7))
            {
                int expected = format.Encode(x, saturate);
                int actual = Encode(name, x, saturate);
                Assert.True(expected == actual, $"{name} {x:R} (0x{BitConverter.SingleToInt32Bits(x):X8}) saturate={saturate}: expected 0x{expected:X2}, got 0x{actual:X2}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void EncodingThenDecodingEveryCodeGivesTheCode(string name)
    {
        for (int code = 0; code < 256; code++)
        {
            float value = Decode(name, (byte)code);
            if (!float.IsNaN(value) && !float.IsInfinity(value))
            {
                Assert.Equal(code, Encode(name, value, saturate: false));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void SpanConversionsEqualTheScalarOnesForEveryLengthAndInputClass(string name)
    {
        Format format = Get(name);
        float[] values = InterestingValues(format, 11);
        foreach (bool saturate in new[] { true, false })
        {
            for (int length = 0; length <= 150; length += length < 70 ? 1 : 37)
            {
                foreach (int offset in new[] { 0, 5, values.Length - 150 })
                {
                    ReadOnlySpan<float> source = values.AsSpan(offset, length);
                    var codes = new byte[length];
                    if (name == "E4M3FN")
                    {
                        Fp8E4M3.FromSingle(source, codes, saturate);
                    }
                    else
                    {
                        Fp8E5M2.FromSingle(source, codes, saturate);
                    }

                    for (int i = 0; i < length; i++)
                    {
                        Assert.True(Encode(name, source[i], saturate) == codes[i], $"{name} [{i}] = {source[i]:R}, saturate={saturate}");
                    }
                }
            }

            var all = new byte[values.Length];
            if (name == "E4M3FN")
            {
                Fp8E4M3.FromSingle(values, all, saturate);
            }
            else
            {
                Fp8E5M2.FromSingle(values, all, saturate);
            }

            for (int i = 0; i < values.Length; i++)
            {
                Assert.True(Encode(name, values[i], saturate) == all[i], $"{name} [{i}] = {values[i]:R}, saturate={saturate}");
            }
        }

        // Decoding: every code at every position of the vectors, and every tail length.
        byte[] codesAll = [.. Enumerable.Range(0, 256 * 3 + 17).Select(i => (byte)(i * 37 + (i >> 8)))];
        var decoded = new float[codesAll.Length];
        if (name == "E4M3FN")
        {
            Fp8E4M3.ToSingle(codesAll, decoded);
        }
        else
        {
            Fp8E5M2.ToSingle(codesAll, decoded);
        }

        for (int i = 0; i < codesAll.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(Decode(name, codesAll[i])), BitConverter.SingleToInt32Bits(decoded[i]));
        }
    }

    /// <summary>The lane functions of every width the process accelerates, not only the widest, against the scalar conversion.</summary>
    [Fact]
    public void EveryAcceleratedWidthEqualsTheScalarConversion()
    {
        float[] values = [.. InterestingValues(E4M3, 3), .. InterestingValues(E5M2, 4)];
        foreach (bool saturate in new[] { true, false })
        {
            for (int i = 0; i + 16 <= values.Length; i += 16)
            {
                for (int lane = 0; lane < 16; lane++)
                {
                    float x = values[i + lane];
                    int bits = BitConverter.SingleToInt32Bits(x);
                    if (Vector128.IsHardwareAccelerated)
                    {
                        Assert.Equal(Fp8E4M3.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E4M3Encoding>(Vector128.Create(bits), saturate)[0]);
                        Assert.Equal(Fp8E5M2.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E5M2Encoding>(Vector128.Create(bits), saturate)[0]);
                    }

                    if (Vector256.IsHardwareAccelerated)
                    {
                        Assert.Equal(Fp8E4M3.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E4M3Encoding>(Vector256.Create(bits), saturate)[3]);
                        Assert.Equal(Fp8E5M2.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E5M2Encoding>(Vector256.Create(bits), saturate)[3]);
                    }

                    if (Vector512.IsHardwareAccelerated)
                    {
                        Assert.Equal(Fp8E4M3.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E4M3Encoding>(Vector512.Create(bits), saturate)[9]);
                        Assert.Equal(Fp8E5M2.FromSingle(x, saturate), Fp8Vector.EncodeLanes<E5M2Encoding>(Vector512.Create(bits), saturate)[9]);
                    }
                }
            }
        }

        for (int code = 0; code < 256; code++)
        {
            int e4 = BitConverter.SingleToInt32Bits(Fp8E4M3.ToSingle((byte)code));
            int e5 = BitConverter.SingleToInt32Bits(Fp8E5M2.ToSingle((byte)code));
            if (Vector128.IsHardwareAccelerated)
            {
                Assert.Equal(e4, Fp8Vector.DecodeLanes<E4M3Encoding>(Vector128.Create(code)).AsInt32()[1]);
                Assert.Equal(e5, Fp8Vector.DecodeLanes<E5M2Encoding>(Vector128.Create(code)).AsInt32()[1]);
            }

            if (Vector256.IsHardwareAccelerated)
            {
                Assert.Equal(e4, Fp8Vector.DecodeLanes<E4M3Encoding>(Vector256.Create(code)).AsInt32()[5]);
                Assert.Equal(e5, Fp8Vector.DecodeLanes<E5M2Encoding>(Vector256.Create(code)).AsInt32()[5]);
            }

            if (Vector512.IsHardwareAccelerated)
            {
                Assert.Equal(e4, Fp8Vector.DecodeLanes<E4M3Encoding>(Vector512.Create(code)).AsInt32()[15]);
                Assert.Equal(e5, Fp8Vector.DecodeLanes<E5M2Encoding>(Vector512.Create(code)).AsInt32()[15]);
            }
        }
    }

    [Fact]
    public void SpanLengthsMustMatch()
    {
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Fp8E4M3.FromSingle(new float[3], new byte[2])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Fp8E5M2.ToSingle(new byte[3], new float[4])).ParamName);
    }
}
