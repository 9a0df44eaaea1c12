using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// MXFP4 and NVFP4 (docs/formats.md#mxfp4, docs/formats.md#nvfp4): the E8M0 and UE4M3 scales of every byte value
/// through the dequantizers, against values written here from the format descriptions and against ggml's
/// <c>dequantize_row_*</c>; the rounding of <c>ggml_fp32_to_ue4m3</c>; the nearest-code tie rule; the
/// <c>floorf(log2f(amax))</c> exponent at every power of two and its wrap below 2⁻¹²⁵. The scalar reference and the
/// vector kernel are both checked, and on x64 the bytes are compared with native ggml.
/// </summary>
public sealed class E2M1FormatTests
{
    /// <summary>kvalues_mxfp4, from the format description: twice the E2M1 value of each code.</summary>
    private static readonly int[] s_kvalues = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// <summary>16 code bytes whose 32 nibbles hold every code twice, low and high in different orders.</summary>
    private static byte CodeByte(int j) => (byte)((j & 0xF) | ((15 - (j & 0xF)) << 4));

    // ---- E8M0: every byte ----

    [Fact]
    public void E8M0OfEveryByteDecodesToKvalueTimesTwoToTheEMinus128()
    {
        var block = new byte[256 * BlockMXFP4.Size];
        for (int e = 0; e < 256; e++)
        {
            block[e * BlockMXFP4.Size] = (byte)e;
            for (int j = 0; j < 16; j++)
            {
                block[e * BlockMXFP4.Size + 1 + j] = CodeByte(j);
            }
        }

        var expected = new float[256 * 32];
        for (int e = 0; e < 256; e++)
        {
            for (int j = 0; j < 16; j++)
            {
                // k·2^(e−128) is exact in double; its float is the one rounding (∞ for 12·2^127).
                expected[e * 32 + j] = (float)(s_kvalues[j] * Math.Pow(2, e - 128));
                expected[e * 32 + j + 16] = (float)(s_kvalues[15 - j] * Math.Pow(2, e - 128));
            }
        }

        AssertDequantizes(QuantType.MXFP4, block, expected);
        Assert.Equal(float.NegativeInfinity, expected[255 * 32 + 16]); // code 15 (−12) at e = 255: −12·2^127 overflows
        Assert.Equal(float.PositiveInfinity, expected[255 * 32 + 7]);
    }

    // ---- UE4M3: every byte ----

    /// <summary>UE4M3 from its description (4 exponent bits with bias 7, 3 mantissa bits, exponent 0 subnormal), halved; 0x7F is 0.</summary>
    private static float Ue4m3Half(int b)
    {
        if (b == 0 || b == 0x7F)
        {
            return 0;
        }

        int exp = (b >> 3) & 0xF, man = b & 7; // bit 7 is not part of the format; ggml ignores it outside the zero test
        double v = exp == 0 ? man / 512.0 : (1 + man / 8.0) * Math.Pow(2, exp - 7);
        return (float)(v / 2);
    }

    [Fact]
    public void Ue4m3OfEveryByteDecodesToHalfItsValue()
    {
        // Worked by hand: 0x38 = 2^0 → 0.5; 0x7E = 1.75·2^8 = 448 → 224; 0x01 = 2^−9 → 2^−10; 0x08 = 2^−6 → 2^−7;
        // 0x7F and 0x80 → 0; 0xFF (exponent 15, mantissa 7, not the 0x7F case) → 240.
        Assert.Equal([0.5f, 224f, MathF.Pow(2, -10), MathF.Pow(2, -7), 0f, 0f, 240f],
                     new[] { Ue4m3Half(0x38), Ue4m3Half(0x7E), Ue4m3Half(0x01), Ue4m3Half(0x08), Ue4m3Half(0x7F), Ue4m3Half(0x80), Ue4m3Half(0xFF) });
        var blocks = new byte[64 * BlockNVFP4.Size];
        var expected = new float[64 * 64];
        for (int b = 0; b < 64; b++)
        {
            for (int s = 0; s < 4; s++)
            {
                int scale = 4 * b + s;
                blocks[b * BlockNVFP4.Size + s] = (byte)scale;
                for (int j = 0; j < 8; j++)
                {
                    byte code = CodeByte(2 * j + s);
                    blocks[b * BlockNVFP4.Size + 4 + 8 * s + j] = code;
                    expected[b * 64 + 16 * s + j] = s_kvalues[code & 0xF] * Ue4m3Half(scale);
                    expected[b * 64 + 16 * s + j + 8] = s_kvalues[code >> 4] * Ue4m3Half(scale);
                }
            }
        }

        AssertDequantizes(QuantType.NVFP4, blocks, expected);
        for (int x = 0; x < 256; x++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(Ue4m3Half(x)), BitConverter.SingleToInt32Bits(UE4M3.ToSingleComputed((byte)x)));
        }
    }

    /// <summary>Reference, vector kernel and (where loaded) ggml's dequantize_row_* all give <paramref name="expected"/> bit for bit.</summary>
    private static void AssertDequantizes(QuantType type, byte[] blocks, float[] expected)
    {
        KernelEntry kernels = KernelRegistry.TryGet(type)!;
        var reference = new float[expected.Length];
        var vector = new float[expected.Length];
        kernels.DequantizeReference!(blocks, reference);
        kernels.Dequantize!(blocks, vector);
        AssertBytes.Equal(expected, reference, type);
        AssertBytes.Equal(expected, vector, type);
        if (GgmlNative.IsAvailable)
        {
            AssertBytes.Equal(expected, GgmlNative.Dequantize((int)type, blocks), type);
        }
        else
        {
            Assert.False(GgmlNative.IsByteReference, GgmlNative.LoadError);
        }
    }

    // ---- ggml_fp32_to_ue4m3 ----

    /// <summary>Inputs of ggml_fp32_to_ue4m3 and their codes, worked out by hand from its rounding rule.</summary>
    public static TheoryData<float, int> Ue4m3Cases() => new()
    {
        { 1.0f, 0x38 },
        { 1.0625f, 0x39 },                              // exactly half a mantissa step: up (half to even would give 0x38)
        { MathF.BitDecrement(1.0625f), 0x38 },          // the bit after the mantissa is 0: down, whatever follows
        { MathF.BitIncrement(1.0625f), 0x39 },
        { 1.1875f, 0x3A },
        { 1.9375f, 0x40 },                              // 1.875 + half a step carries into the exponent: 2.0
        { MathF.ScaleB(1, -6), 0x08 },                  // the smallest normal
        { MathF.ScaleB(1, -10), 0x01 },                 // subnormal: (int)(0.5 + 0.5) = 1
        { MathF.ScaleB(1, -11), 0x00 },                 // (int)(0.25 + 0.5) = 0
        { MathF.BitDecrement(MathF.ScaleB(1, -10)), 0x01 }, // x·512 = 0.5 − 2^−25: the float sum rounds to 1.0, so 1, not 0
        { MathF.BitDecrement(MathF.ScaleB(1, -6)), 0x07 },  // (int)(7.99… + 0.5) = 8, clamped to 7
        { 240f, 0x77 },
        { MathF.BitDecrement(256f), 0x7E },             // 1.99…·2^7 carries to exponent 15: saturates
        { 256f, 0x7E },                                 // exponent 15: 448, whatever the mantissa
        { 1000f, 0x7E },
        { 0f, 0x00 },
        { -0f, 0x00 },
        { -1f, 0x00 },
        { float.NaN, 0x00 },
    };

    [Theory]
    [MemberData(nameof(Ue4m3Cases))]
    public void Fp32ToUe4m3RoundsHalfUpOnOneBitAndSaturates(float x, int expected) =>
        Assert.Equal(expected, UE4M3.FromSingle(x));

    /// <summary>
    /// The rounding of the sub-block scale against the oracle: sub-blocks whose amax / 6 sits on, just below and just
    /// above the midpoint between every pair of neighbouring UE4M3 values, and on every value.
    /// </summary>
    [Fact]
    public void ScaleRoundingAtEveryUe4m3MidpointMatchesGgml()
    {
        var amaxes = new List<float>();
        for (int c = 1; c < 0x7E; c++)
        {
            float lo = 2 * Ue4m3Half(c), hi = 2 * Ue4m3Half(c + 1);
            float mid = (lo + hi) / 2; // exact: neighbours differ in the last of their few bits
            foreach (float v in new[] { lo, mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid) })
            {
                amaxes.Add(v * 6);
                amaxes.Add(MathF.BitDecrement(v * 6));
                amaxes.Add(MathF.BitIncrement(v * 6));
            }
        }

        int saturating = amaxes.Count;
        amaxes.AddRange([300f * 6, 448f * 6, 1e30f]);
        while (amaxes.Count % 4 != 0)
        {
            amaxes.Add(1);
        }

        // One sub-block per amax: the amax itself, then values a fraction of it (with both signs).
        var x = new float[amaxes.Count * 16];
        for (int i = 0; i < amaxes.Count; i++)
        {
            for (int j = 0; j < 16; j++)
            {
                x[i * 16 + j] = j == 5 ? amaxes[i] : amaxes[i] * ((j % 7) - 3) / 7.0f;
            }
        }

        byte[] reference = QuantizeBoth(QuantType.NVFP4, x);
        for (int i = 0; i < amaxes.Count; i++)
        {
            Assert.Equal(UE4M3.FromSingle(amaxes[i] / 6), reference[i / 4 * BlockNVFP4.Size + i % 4]);
        }

        Assert.Equal(0x7E, reference[saturating / 4 * BlockNVFP4.Size + saturating % 4]); // 300 → 448
    }

    // ---- best_index_mxfp4: ties ----

    /// <summary>
    /// With amax 12 the MXFP4 scale is 1 (e = 128) and NVFP4's is 1 (amax/6 = 2 → 0x40, halved); put every midpoint
    /// between neighbouring magnitudes, with both signs, and the zeros into the block: ties go to the lower code.
    /// </summary>
    [Theory]
    [InlineData(QuantType.MXFP4)]
    [InlineData(QuantType.NVFP4)]
    public void NearestCodeTiesGoToTheLowerCode(QuantType type)
    {
        (float Value, int Code)[] cases =
        [
            (12f, 7), (0.5f, 0), (1.5f, 1), (2.5f, 2), (3.5f, 3), (5f, 4), (7f, 5), (10f, 6),
            (-0.5f, 0), (-1.5f, 9), (-2.5f, 10), (-3.5f, 11), (-5f, 12), (-7f, 13), (-10f, 14), (-12f, 15),
        ];
        int n = QuantFormat.Get(type).BlockSize;
        var x = new float[n];
        for (int j = 0; j < n; j++)
        {
            x[j] = j < cases.Length ? cases[j].Value : j % 3 == 0 ? -0f : j % 3 == 1 ? 0f : -1e-30f;
        }

        if (type == QuantType.NVFP4)
        {
            // Each 16-value sub-block has its own scale: give every one the cases (amax 12 each).
            for (int j = 16; j < n; j++)
            {
                x[j] = x[j % 16];
            }
        }

        byte[] q = QuantizeBoth(type, x);
        for (int j = 0; j < n; j++)
        {
            int expected = type == QuantType.NVFP4 ? cases[j % 16].Code : j < cases.Length ? cases[j].Code : 0; // ±0 and −1e-30 → code 0
            Assert.True(expected == Code(type, q, j), $"{type} element {j} ({x[j]}): code {Code(type, q, j)}, expected {expected}");
        }

        Assert.Equal(type == QuantType.MXFP4 ? 128 : 0x40, q[0]);
    }

    /// <summary>The code of element <paramref name="j"/> of the first block, read by the layout of docs/formats.md.</summary>
    private static int Code(QuantType type, byte[] q, int j)
    {
        if (type == QuantType.MXFP4)
        {
            byte b = q[1 + j % 16];
            return j < 16 ? b & 0xF : b >> 4;
        }

        int s = j / 16, e = j % 16;
        byte c = q[4 + 8 * s + e % 8];
        return e < 8 ? c & 0xF : c >> 4;
    }

    // ---- floorf(log2f(amax)) and the uint8 cast ----

    /// <summary>
    /// At every power of two 2^k (k = −148 … 128), the floats just below it whose glibc log2f rounds up to k: computed
    /// here from the rounding rule, compared with the library's exponent, with glibc where the process runs on it, and
    /// (on x64) through whole MXFP4 blocks with ggml.
    /// </summary>
    [Fact]
    public void BlockExponentMatchesGlibcLog2fAtEveryPowerOfTwo()
    {
        // How many floats below 2^k round up, by hand for a few k: 2^65 has 44 (65 ≥ 64: half spacing 2^−18 ≈ 44·1.4427·2^−24);
        // 2, 4, 1 and 1/2 have none; 2^3 has 1 (j·1.4427·2^−24 below 2^−23 only for j = 1); 2^−126 has 22 (subnormal spacing below it is twice as coarse).
        Assert.Equal(44, RoundingUp(65));
        Assert.Equal([0, 0, 0, 0, 1, 22], new[] { RoundingUp(1), RoundingUp(2), RoundingUp(0), RoundingUp(-1), RoundingUp(3), RoundingUp(-126) });
        bool glibc = OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;
        var amaxes = new List<float>();
        for (int k = -148; k <= 128; k++)
        {
            uint top = k == 128 ? 0x7F800000u : BitConverter.SingleToUInt32Bits(MathF.ScaleB(1, k));
            for (int j = 1; j <= 60 && j < top; j++)
            {
                float x = BitConverter.UInt32BitsToSingle(top - (uint)j);
                if (x < MathF.ScaleB(1, k - 1))
                {
                    break;
                }

                int expected = j <= RoundingUp(k) ? k : k - 1;
                Assert.True(expected == E8M0.FloorLog2(x), $"2^{k} − {j} floats: {E8M0.FloorLog2(x)}, expected {expected}");
                if (glibc)
                {
                    Assert.True(expected == (int)MathF.Floor(MathF.Log2(x)), $"glibc log2f(2^{k} − {j} floats) = {MathF.Log2(x)}");
                }

                if (j >= RoundingUp(k) && j <= RoundingUp(k) + 1)
                {
                    amaxes.Add(x);
                }
            }
        }

        // One MXFP4 block per boundary amax, with a few smaller values: the exponent byte and the codes against ggml.
        var data = new float[amaxes.Count * 32];
        for (int i = 0; i < amaxes.Count; i++)
        {
            for (int j = 0; j < 32; j++)
            {
                data[i * 32 + j] = j == 0 ? amaxes[i] : amaxes[i] / 19.0f * (j - 16);
            }
        }

        byte[] q = QuantizeBoth(QuantType.MXFP4, data);
        for (int i = 0; i < amaxes.Count; i++)
        {
            Assert.Equal((byte)(E8M0.FloorLog2(amaxes[i]) + 125), q[i * BlockMXFP4.Size]);
        }
    }

    /// <summary>
    /// The number of floats just below 2^k whose log2 is within half a float spacing of k on the side of larger
    /// magnitude, counted in double: the rule a correctly rounded log2f follows.
    /// </summary>
    private static int RoundingUp(int k)
    {
        if (k == 0)
        {
            return 0;
        }

        int m = (int)Math.Floor(Math.Log2(Math.Abs(k)));
        double half = Math.Pow(2, m - 24) / (k > 0 && k == 1 << m ? 2 : 1);
        double rho = k >= -125 ? Math.Pow(2, -24) : Math.Pow(2, -149 - k);
        int j = 0;
        while (j + 1 < 1 / rho && -Math.Log2(1 - (j + 1) * rho) < half)
        {
            j++;
        }

        return j;
    }

    /// <summary>
    /// Below 2⁻¹²⁵ the exponent floor(log2 amax) + 125 is negative, and the oracle's cast to uint8 wraps it: 2⁻¹²⁶ gives
    /// 255 (scale 2¹²⁷), 2⁻¹³⁰ gives 251; every code of such a block is 0. 2⁻¹²⁵ itself gives 0.
    /// </summary>
    [Theory]
    [InlineData(-125, 0)]
    [InlineData(-126, 255)]
    [InlineData(-130, 251)]
    [InlineData(-149, 232)]
    public void ExponentsBelowZeroWrapAsTheOracleCastsThem(int log2Amax, int expected)
    {
        var x = new float[32];
        x[3] = MathF.ScaleB(1, log2Amax);
        x[4] = -x[3];
        byte[] q = QuantizeBoth(QuantType.MXFP4, x);
        Assert.Equal(expected, q[0]);
        if (expected != 0)
        {
            Assert.All(q[1..], b => Assert.Equal(0, b));
        }
        else
        {
            Assert.Equal(0x06, q[4]);         // 2^−125 = 8·2^−128: kvalue 8 (code 6) at e = 0 (d = 2^−128)
            Assert.Equal(0x0E, q[5]);         // and −8: code 14
        }
    }

    /// <summary>Quantizes one row with the reference and the vector kernel (equal bytes), and on x64 checks ggml's bytes too.</summary>
    private static byte[] QuantizeBoth(QuantType type, float[] x)
    {
        KernelEntry kernels = KernelRegistry.TryGet(type)!;
        var reference = new byte[Quantizer.GetByteCount(type, x.Length)];
        var vector = new byte[reference.Length];
        kernels.QuantizeReference!(x, reference, default);
        kernels.Quantize!(x, vector, default);
        AssertBytes.Equal(reference, vector, type);
        var viaFacade = new byte[reference.Length];
        Quantizer.Quantize(type, x, viaFacade, x.Length);
        AssertBytes.Equal(reference, viaFacade, type);
        if (GgmlNative.IsByteReference)
        {
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)type, x, x.Length), reference, type);
        }

        return reference;
    }
}
