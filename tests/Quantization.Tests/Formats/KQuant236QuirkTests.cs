using System.Runtime.InteropServices;
using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>
/// The quirks docs/formats.md#scale-searches and docs/formats.md#k-quants name for Q2_K, Q3_K and Q6_K, one input each where the quirk changes the bytes.
/// Each test asserts our bytes equal ggml's (the x64 oracle) and that a deliberately quirk-free variant, written
/// below, gives different bytes, so the input really discriminates. The same variant with every quirk kept must
/// give our bytes exactly (a check of the variant itself).
/// </summary>
public sealed class KQuant236QuirkTests
{
    private const int Qk = 256;

    // ---------------------------------------------------------------- Q2_K

    [Fact]
    public void Q2_KZeroScaleSubBlockKeepsFirstPassCodes()
    {
        float[] x = TestData.Gaussian(21, Qk, 1.0);
        for (int i = 0; i < 16; i++)
        {
            x[i] = 0.002f + 0.0005f * i; // sub-block 0: a tiny positive ramp, its 4-bit scale rounds to 0
        }

        AssertQuirk(QuantType.Q2_K, x, [], Q2Variant(x, [], keepFirstPass: false), Q2Variant(x, []));
    }

    [Fact]
    public void Q2_KRequantizesWithFp16RoundedScales()
    {
        float[] x = TestData.Gaussian(22, 16 * Qk, 1.0);
        AssertQuirk(QuantType.Q2_K, x, [], Q2Variant(x, [], fp16Requant: false), Q2Variant(x, []));
    }

    [Fact]
    public void Q2_KSearchUsesTheRunningMin()
    {
        float[] x = TestData.Gaussian(23, 16 * Qk, 1.0);
        AssertQuirk(QuantType.Q2_K, x, [], Q2Variant(x, [], runningMin: false), Q2Variant(x, []));
    }

    [Fact]
    public void Q2_KImatrixSigma2HasNoFactorTwo()
    {
        float[] x = TestData.Gaussian(24, 16 * Qk, 1.0);
        float[] qw = TestData.Importance(25, x.Length, withZeros: false);
        AssertQuirk(QuantType.Q2_K, x, qw, Q2Variant(x, qw, sigma2FactorOne: false), Q2Variant(x, qw));
    }

    [Fact]
    public void Q2_KImatrixRequantizesWithFp16RoundedScales()
    {
        float[] x = TestData.Gaussian(26, 64 * Qk, 1.0);
        float[] qw = TestData.Importance(27, x.Length, withZeros: false);
        AssertQuirk(QuantType.Q2_K, x, qw, Q2Variant(x, qw, fp16Requant: false), Q2Variant(x, qw));
    }

    // ---------------------------------------------------------------- Q3_K

    [Fact]
    public void Q3_KStrictSignedMaxSelection()
    {
        // Sub-block 1 is sub-block 0 negated, on the exact integer grid: their scales are +1 and −1 exactly, so the
        // first (strict >) wins the tie and sets the sign of d.
        float[] x = TestData.Gaussian(31, Qk, 0.25);
        for (int i = 0; i < 16; i++)
        {
            x[i] = (i % 8) - 4;
            x[16 + i] = -x[i];
        }

        AssertQuirk(QuantType.Q3_K, x, [], Q3Variant(x, strictMax: false), Q3Variant(x));
    }

    [Fact]
    public void Q3_KZeroScaleSubBlockKeepsFirstPassCodes()
    {
        float[] x = TestData.Gaussian(32, Qk, 1.0);
        for (int i = 0; i < 16; i++)
        {
            x[i] *= 1e-3f; // its 6-bit scale rounds to 0
        }

        AssertQuirk(QuantType.Q3_K, x, [], Q3Variant(x, keepFirstPass: false), Q3Variant(x));
    }

    [Fact]
    public void Q3_KRequantizesWithFp16RoundedScale()
    {
        float[] x = TestData.Gaussian(33, 16 * Qk, 1.0);
        AssertQuirk(QuantType.Q3_K, x, [], Q3Variant(x, fp16Requant: false), Q3Variant(x));
    }

    // ---------------------------------------------------------------- Q6_K

    [Fact]
    public void Q6_KStrictSignedMaxSelection()
    {
        // Sub-block 1 is sub-block 0 negated (and larger than the rest): make_qx_quants is odd-symmetric, so the two
        // scales are exact negatives and the first one gives the sign of d (its scale becomes −128, the other +127).
        float[] x = TestData.Gaussian(61, Qk, 0.25);
        for (int i = 0; i < 16; i++)
        {
            x[i] *= 8;
            x[16 + i] = -x[i];
        }

        AssertQuirk(QuantType.Q6_K, x, [], Q6Variant(x, [], strictMax: false), Q6Variant(x, []));
    }

    [Fact]
    public void Q6_KZeroScaleSubBlockKeepsFirstPassCodes()
    {
        float[] x = TestData.Gaussian(62, Qk, 1.0);
        for (int i = 0; i < 16; i++)
        {
            x[i] *= 1e-4f; // its 8-bit scale rounds to 0
        }

        AssertQuirk(QuantType.Q6_K, x, [], Q6Variant(x, [], keepFirstPass: false), Q6Variant(x, []));
    }

    [Fact]
    public void Q6_KRequantizesWithFp16RoundedScale()
    {
        float[] x = TestData.Gaussian(63, 16 * Qk, 1.0);
        AssertQuirk(QuantType.Q6_K, x, [], Q6Variant(x, [], fp16Requant: false), Q6Variant(x, []));
    }

    [Fact]
    public void Q6_KImatrixWeightsAreRawImportance()
    {
        float[] x = TestData.Gaussian(64, 16 * Qk, 1.0);
        float[] qw = TestData.Importance(65, x.Length, withZeros: false);
        AssertQuirk(QuantType.Q6_K, x, qw, Q6Variant(x, qw, rawImportance: false), Q6Variant(x, qw));
    }

    // ---------------------------------------------------------------- helpers

    private static void AssertQuirk(QuantType type, float[] x, float[] importance, byte[] quirkFree, byte[] faithful)
    {
        var ours = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, ours, x.Length, importance);
        if (GgmlNative.IsByteReference)
        {
            Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)type, x, x.Length, importance), ours, type);
        }

        AssertBytes.Equal(ours, faithful, type);
        Assert.False(ours.AsSpan().SequenceEqual(quirkFree), $"{type}: the quirk-free variant gives the same bytes; the input does not discriminate.");
    }

    /// <summary>Q2_K (ref without importance, impl with) with each quirk switchable.</summary>
    private static byte[] Q2Variant(float[] x, float[] qw, bool keepFirstPass = true, bool fp16Requant = true, bool runningMin = true,
                                    bool sigma2FactorOne = true)
    {
        var y = new BlockQ2_K[x.Length / Qk];
        var L = new byte[Qk];
        var Laux = new byte[16];
        var weight = new float[16];
        var scales = new float[16];
        var mins = new float[16];
        var sw = new float[16];
        var Ls = new byte[16];
        var Lm = new byte[16];
        for (int i = 0; i < y.Length; i++)
        {
            ReadOnlySpan<float> xb = x.AsSpan(i * Qk, Qk);
            ref BlockQ2_K b = ref y[i];
            float dF, mF;
            if (qw.Length == 0)
            {
                float maxScale = 0, maxMin = 0;
                for (int j = 0; j < 16; j++)
                {
                    for (int l = 0; l < 16; l++)
                    {
                        weight[l] = MathF.Abs(xb[16 * j + l]);
                    }

                    scales[j] = Qkx2(xb.Slice(16 * j, 16), weight, L.AsSpan(16 * j, 16), out mins[j], Laux, runningMin);
                    maxScale = scales[j] > maxScale ? scales[j] : maxScale;
                    maxMin = mins[j] > maxMin ? mins[j] : maxMin;
                }

                for (int j = 0; j < 16; j++)
                {
                    int ls = maxScale > 0 ? Rounding.NearestInt(15f / maxScale * scales[j]) : 0;
                    int lm = maxMin > 0 ? Rounding.NearestInt(15f / maxMin * mins[j]) : 0;
                    b.Scales[j] = (byte)(ls | (lm << 4));
                }

                b.D = Fp16.FromSingle(maxScale > 0 ? maxScale / 15f : 0f);
                b.Dmin = Fp16.FromSingle(maxMin > 0 ? maxMin / 15f : 0f);
                dF = fp16Requant ? Fp16.ToSingle(b.D) : maxScale / 15f;
                mF = fp16Requant ? Fp16.ToSingle(b.Dmin) : maxMin / 15f;
            }
            else
            {
                float sumx2 = 0;
                for (int j = 0; j < Qk; j++)
                {
                    sumx2 += xb[j] * xb[j];
                }

                float sigma2 = sigma2FactorOne ? sumx2 / Qk : 2 * sumx2 / Qk;
                for (int j = 0; j < 16; j++)
                {
                    QuantSearch.ImportanceWeights(xb.Slice(16 * j, 16), qw.AsSpan(Qk * i + 16 * j, 16), sigma2, weight);
                    sw[j] = 0;
                    for (int l = 0; l < 16; l++)
                    {
                        sw[j] += weight[l];
                    }

                    scales[j] = QuantSearch.MakeQkx3Quants(16, 3, xb.Slice(16 * j, 16), weight, L.AsSpan(16 * j, 16), out mins[j], Laux, -0.9f, 0.05f, 36, false);
                }

                float dm = QuantSearch.MakeQpQuants(16, 15, scales, Ls, sw);
                float mm = QuantSearch.MakeQpQuants(16, 15, mins, Lm, sw);
                b.D = Fp16.FromSingle(dm);
                b.Dmin = Fp16.FromSingle(mm);
                for (int j = 0; j < 16; j++)
                {
                    b.Scales[j] = (byte)(Ls[j] | (Lm[j] << 4));
                }

                dF = fp16Requant ? Fp16.ToSingle(b.D) : dm;
                mF = fp16Requant ? Fp16.ToSingle(b.Dmin) : mm;
            }

            for (int j = 0; j < 16; j++)
            {
                float d = dF * (b.Scales[j] & 0xF);
                if (d == 0)
                {
                    if (!keepFirstPass)
                    {
                        L.AsSpan(16 * j, 16).Clear();
                    }

                    continue;
                }

                float m = mF * (b.Scales[j] >> 4);
                for (int l = 0; l < 16; l++)
                {
                    L[16 * j + l] = (byte)Math.Clamp(Rounding.NearestInt((xb[16 * j + l] + m) / d), 0, 3);
                }
            }

            BlockQ2_K.PackLow2(L, b.Qs);
        }

        return MemoryMarshal.AsBytes(y.AsSpan()).ToArray();
    }

    /// <summary>make_qkx2_quants(16, 3, rmin −0.5, rdelta 0.1, nstep 15, use_mad), optionally with the original min kept.</summary>
    private static float Qkx2(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<byte> L, out float theMin, Span<byte> Laux, bool runningMin)
    {
        const int n = 16, nmax = 3, nstep = 15;
        const float rmin = -0.5f, rdelta = 0.1f;
        float min = x[0], max = x[0], sumW = w[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            min = x[i] < min ? x[i] : min;
            max = x[i] > max ? x[i] : max;
            sumW += w[i];
            sumX += w[i] * x[i];
        }

        min = min > 0 ? 0 : min;
        if (max == min)
        {
            L.Clear();
            theMin = -min;
            return 0f;
        }

        float min0 = min;
        float iscale = nmax / (max - min), scale = 1 / iscale, best = 0;
        for (int i = 0; i < n; i++)
        {
            L[i] = (byte)Math.Clamp(Rounding.NearestInt(iscale * (x[i] - min)), 0, nmax);
            best += w[i] * MathF.Abs(scale * L[i] + min - x[i]);
        }

        for (int step = 0; step <= nstep; step++)
        {
            float searchMin = runningMin ? min : min0;
            iscale = (rmin + rdelta * step + nmax) / (max - searchMin);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(Rounding.NearestInt(iscale * (x[i] - searchMin)), 0, nmax);
                Laux[i] = (byte)l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[i];
            }

            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }

                float err = 0;
                for (int i = 0; i < n; i++)
                {
                    err += w[i] * MathF.Abs(thisScale * Laux[i] + thisMin - x[i]);
                }

                if (err < best)
                {
                    Laux.CopyTo(L);
                    best = err;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }

        theMin = -min;
        return scale;
    }

    /// <summary>Q3_K ref with each quirk switchable.</summary>
    private static byte[] Q3Variant(float[] x, bool strictMax = true, bool fp16Requant = true, bool keepFirstPass = true)
    {
        var y = new BlockQ3_K[x.Length / Qk];
        var L = new sbyte[Qk];
        var scales = new float[16];
        for (int i = 0; i < y.Length; i++)
        {
            ReadOnlySpan<float> xb = x.AsSpan(i * Qk, Qk);
            ref BlockQ3_K b = ref y[i];
            float maxScale = 0, amax = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = QuantSearch.MakeQ3Quants(16, 4, xb.Slice(16 * j, 16), L.AsSpan(16 * j, 16), true);
                float a = MathF.Abs(scales[j]);
                if (strictMax ? a > amax : a >= amax)
                {
                    amax = a;
                    maxScale = scales[j];
                }
            }

            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++)
            {
                BlockQ3_K.SetScale(b.Scales, j, Math.Clamp((int)(sbyte)Rounding.NearestInt(iscale * scales[j]), -32, 31) + 32);
            }

            b.D = Fp16.FromSingle(1 / iscale);
            float dAll = fp16Requant ? Fp16.ToSingle(b.D) : 1 / iscale;
            for (int j = 0; j < 16; j++)
            {
                float d = dAll * BlockQ3_K.GetScale(b.Scales, j);
                if (d == 0)
                {
                    if (!keepFirstPass)
                    {
                        L.AsSpan(16 * j, 16).Fill(4);
                    }

                    continue;
                }

                for (int l = 0; l < 16; l++)
                {
                    L[16 * j + l] = (sbyte)(Math.Clamp(Rounding.NearestInt(xb[16 * j + l] / d), -4, 3) + 4);
                }
            }

            for (int j = 0; j < Qk; j++)
            {
                if (L[j] > 3)
                {
                    b.Hmask[j % 32] |= (byte)(1 << (j / 32));
                    L[j] -= 4;
                }
            }

            BlockQ2_K.PackLow2(MemoryMarshal.AsBytes(L.AsSpan()), b.Qs);
        }

        return MemoryMarshal.AsBytes(y.AsSpan()).ToArray();
    }

    /// <summary>Q6_K (ref, or impl with importance) with each quirk switchable.</summary>
    private static byte[] Q6Variant(float[] x, float[] qw, bool strictMax = true, bool fp16Requant = true, bool keepFirstPass = true,
                                    bool rawImportance = true)
    {
        var y = new BlockQ6_K[x.Length / Qk];
        var L = new sbyte[Qk];
        var scales = new float[16];
        var weight = new float[16];
        for (int i = 0; i < y.Length; i++)
        {
            ReadOnlySpan<float> xb = x.AsSpan(i * Qk, Qk);
            ref BlockQ6_K b = ref y[i];
            float sumx2 = 0;
            for (int j = 0; j < Qk; j++)
            {
                sumx2 += xb[j] * xb[j];
            }

            float maxScale = 0, maxAbs = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                ReadOnlySpan<float> w = default;
                if (qw.Length != 0)
                {
                    w = qw.AsSpan(Qk * i + 16 * ib, 16);
                    if (!rawImportance)
                    {
                        QuantSearch.ImportanceWeights(xb.Slice(16 * ib, 16), w, sumx2 / Qk, weight);
                        w = weight;
                    }
                }

                scales[ib] = QuantSearch.MakeQxQuants(16, 32, xb.Slice(16 * ib, 16), L.AsSpan(16 * ib, 16), 1, w);
                float a = MathF.Abs(scales[ib]);
                if (strictMax ? a > maxAbs : a >= maxAbs)
                {
                    maxAbs = a;
                    maxScale = scales[ib];
                }
            }

            float iscale = -128f / maxScale;
            b.D = Fp16.FromSingle(1 / iscale);
            for (int ib = 0; ib < 16; ib++)
            {
                b.Scales[ib] = (sbyte)Math.Min(127, Rounding.NearestInt(iscale * scales[ib]));
            }

            float dAll = fp16Requant ? Fp16.ToSingle(b.D) : 1 / iscale;
            for (int j = 0; j < 16; j++)
            {
                float d = dAll * b.Scales[j];
                if (d == 0)
                {
                    if (!keepFirstPass)
                    {
                        L.AsSpan(16 * j, 16).Fill(32);
                    }

                    continue;
                }

                for (int l = 0; l < 16; l++)
                {
                    L[16 * j + l] = (sbyte)(Math.Clamp(Rounding.NearestInt(xb[16 * j + l] / d), -32, 31) + 32);
                }
            }

            Q6_KReference.Pack(MemoryMarshal.AsBytes(L.AsSpan()), ref b);
        }

        return MemoryMarshal.AsBytes(y.AsSpan()).ToArray();
    }
}
