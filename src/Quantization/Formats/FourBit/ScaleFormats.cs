using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// E8M0, MXFP4's shared block exponent (docs/formats.md#mxfp4): a biased power of two, 2^(e − 127), read halved because
/// the E2M1 code table stores doubled values.
/// </summary>
internal static class E8M0
{
    /// <summary>
    /// ggml's <c>ggml_e8m0_to_fp32_half</c>: 2^(e − 128). e = 0 and 1 give the subnormals 2^−128 and 2^−127; e = 255 gives
    /// 2^127 (ggml does not special-case NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingleHalf(byte e) =>
        BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);

    /// <summary>
    /// The exponent MXFP4's quantizer stores for a block whose largest magnitude is <paramref name="amax"/>:
    /// <c>amax &gt; 0 ? (uint8)(floorf(log2f(amax)) − 2 + 127) : 0</c>. The float-to-uint8 cast of the oracle (x86:
    /// <c>cvttss2si</c>, then the low byte) wraps a negative exponent, so amax below 2^−125 gives 256 + k.
    /// </summary>
    public static byte FromAmax(float amax) => amax > 0 ? (byte)(FloorLog2(amax) + 125) : (byte)0;

    /// <summary>
    /// <c>floorf(log2f(x))</c> for a positive finite x, exactly as glibc's single-precision <c>log2f</c> (the oracle's C
    /// library) rounds: log2f returns the integer k + 1 for an x just below 2^(k+1) when log2(x) lies within half a float
    /// spacing of k + 1, and floor then gives k + 1 instead of k. Computed from the float's bits, so every processor and C
    /// library gives the same exponent.
    /// </summary>
    public static int FloorLog2(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        int k = (int)(bits >> 23) - 127;
        if (k == -127)
        {
            k = 31 - BitOperations.LeadingZeroCount(bits & 0x7FFFFF) - 149; // subnormal: mantissa·2^−149
        }

        return x >= RoundUpFrom(k + 1) ? k + 1 : k;
    }

    /// <summary>The smallest float below 2^k whose log2f rounds to k (2^k itself where none does), for k in −148 … 128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RoundUpFrom(int k) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s_roundUpFrom), k + 149);

    private static readonly float[] s_roundUpFrom = BuildRoundUpFrom();

    /// <summary>
    /// For each k, how many floats just below 2^k have log2 within half a float spacing of k, so that a correctly
    /// rounded log2f returns k: the j-th float below 2^k is 2^k·(1 − j·ρ) (ρ the relative spacing there), its log2 is
    /// k − L with L = −log2(1 − j·ρ), and it rounds to k while L is below half the spacing of the floats next to k on the
    /// side of larger magnitude (below k for k &gt; 0, beyond |k| for k &lt; 0). Every margin is over 0.5 % of that half
    /// spacing, far above the error of the double arithmetic here and of glibc's log2f (tests compare with glibc and
    /// with the oracle at every boundary).
    /// </summary>
    private static float[] BuildRoundUpFrom()
    {
        var table = new float[128 + 149 + 1];
        for (int k = -149; k <= 128; k++)
        {
            double half = HalfSpacingTowardsLarger(k);
            double rho = k >= -125 ? Math.Pow(2, -24) : Math.Pow(2, -149 - k); // floats below 2^k: normal binade, or subnormal steps
            int j = 0;
            while (half > 0 && j + 1 < 1 / rho && -Math.Log2(1 - (j + 1) * rho) < half)
            {
                j++;
            }

            // 2^k − j·ρ·2^k; for k = 128 that is below float.MaxValue's binade top, computed in double and exact in float.
            table[k + 149] = (float)(Math.Pow(2, k) * (1 - j * rho));
        }

        return table;
    }

    /// <summary>Half the float spacing next to the integer k on the side of larger magnitude (0 for k = 0: log2f never rounds to 0 from below 1).</summary>
    private static double HalfSpacingTowardsLarger(int k)
    {
        if (k == 0)
        {
            return 0;
        }

        int m = 31 - BitOperations.LeadingZeroCount((uint)Math.Abs(k)); // 2^m ≤ |k| < 2^(m+1)
        double spacing = Math.Pow(2, m - 23);
        if (k > 0 && k == 1 << m)
        {
            spacing /= 2; // below a positive power of two the floats are twice as dense
        }

        return spacing / 2;
    }
}

/// <summary>
/// UE4M3, NVFP4's per-16-value scale (docs/formats.md#nvfp4): unsigned, 4 exponent bits (bias 7), 3 mantissa bits, read
/// halved because the E2M1 code table stores doubled values.
/// </summary>
internal static class UE4M3
{
    private static readonly float[] s_values = BuildValues();

    /// <summary>ggml's <c>ggml_ue4m3_to_fp32</c> by table: the value times 0.5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(byte x) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s_values), x);

    /// <summary>
    /// ggml's <c>ggml_ue4m3_to_fp32</c> computed: 0 for 0x00 and 0x7F; exponent 0 is subnormal (man·2^−9), otherwise
    /// (1 + man/8)·2^(exp − 7); times 0.5. Bit 7 is ignored, except that 0x80 and 0xFF are not the zero cases (0x80 has
    /// exponent and mantissa 0 and so is 0 anyway; 0xFF is 1.875·2^8·0.5 = 240).
    /// </summary>
    public static float ToSingleComputed(byte x)
    {
        if (x == 0 || x == 0x7F)
        {
            return 0.0f;
        }

        int exp = (x >> 3) & 0xF;
        int man = x & 0x7;
        float raw = exp == 0 ? MathF.ScaleB(man, -9) : MathF.ScaleB(1.0f + man / 8.0f, exp - 7);
        return raw * 0.5f;
    }

    /// <summary>
    /// ggml's <c>ggml_fp32_to_ue4m3</c>: 0 for x ≤ 0 or NaN; clamped to 448; below 2^−6 the subnormal code
    /// (int)(x·512 + 0.5f) in float arithmetic, at most 7; normals keep 3 mantissa bits and round half up on the next bit
    /// alone (no sticky bits); an exponent of 15 or more gives 0x7E (448), so everything from 256 up saturates there.
    /// </summary>
    public static byte FromSingle(float x)
    {
        if (!(x > 0.0f))
        {
            return 0;
        }

        if (x > 448.0f)
        {
            x = 448.0f;
        }

        uint bits = BitConverter.SingleToUInt32Bits(x);
        int exp = (int)((bits >> 23) & 0xFF) - 127 + 7;
        if (exp <= 0)
        {
            int sub = (int)(x * 512.0f + 0.5f);
            return sub < 1 ? (byte)0 : (byte)Math.Min(sub, 7);
        }

        if (exp >= 15)
        {
            return 0x7E;
        }

        int man = (int)((bits >> 20) & 0x7) + (int)((bits >> 19) & 1);
        if (man > 7)
        {
            man = 0;
            exp++;
            if (exp >= 15)
            {
                return 0x7E;
            }
        }

        return (byte)((exp << 3) | man);
    }

    private static float[] BuildValues()
    {
        var values = new float[256];
        for (int x = 0; x < 256; x++)
        {
            values[x] = ToSingleComputed((byte)x);
        }

        return values;
    }
}
