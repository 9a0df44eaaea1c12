using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Conformance;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// The quirks docs/formats.md#scale-searches and docs/formats.md#q4_k name for Q4_K and Q5_K, one test each. Every test runs a model of the quantizer
/// written here (<see cref="Model"/>) twice: with the quirk, where it must equal the library and ggml (the x64 byte
/// reference), and with the quirk "fixed", where it must give different bytes — proof that the input exercises it.
/// </summary>
public sealed class KQuant45QuirkTests
{
    /// <summary>Which of ggml's behaviours the model keeps; the defaults are ggml's.</summary>
    private sealed record Quirks
    {
        /// <summary>make_qkx2/qkx3 search from the most recently accepted min (false: always the data's min).</summary>
        public bool RunningMin { get; init; } = true;

        /// <summary>Requantize with the FP16-rounded d / dmin (false: the float values before rounding).</summary>
        public bool Fp16Requantize { get; init; } = true;

        /// <summary>Requantize with d·sc and dmin·m from the 6-bit codes (false: each sub-block's own searched scale and min).</summary>
        public bool IntegerSubScales { get; init; } = true;

        /// <summary>A sub-block with d·sc == 0 keeps its first-pass codes (false: its codes are cleared).</summary>
        public bool KeepFirstPassCodes { get; init; } = true;

        /// <summary>The _impl path's σ² = 2·Σx²/256 (false: Σx²/256, as Q2_K uses).</summary>
        public bool Sigma2TimesTwo { get; init; } = true;

        /// <summary>Fused multiply-add in the search sums, as an FMA-contracting compiler builds ggml (false: plain IEEE, x86 ggml).</summary>
        public bool Fma { get; init; }
    }

    private static readonly Quirks s_ggml = new();

    // ---------------------------------------------------------------- tests

    [Theory]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.Q5_K)]
    public void ModelWithGgmlQuirksEqualsLibraryAndGgml(QuantType type)
    {
        foreach (float[] x in Inputs())
        {
            Check(type, x, null, s_ggml, expectDifferent: false);
            Check(type, x, Importance(), s_ggml, expectDifferent: false);
        }
    }

    [Theory]
    [InlineData(QuantType.Q4_K, false)]
    [InlineData(QuantType.Q5_K, false)]
    [InlineData(QuantType.Q4_K, true)]
    [InlineData(QuantType.Q5_K, true)]
    public void SearchContinuesFromTheRunningMin(QuantType type, bool importance) =>
        Check(type, TestData.GgmlGenerateData(0f, 4096), importance ? Importance() : null, s_ggml with { RunningMin = false }, expectDifferent: true);

    [Theory]
    [InlineData(QuantType.Q4_K, false)]
    [InlineData(QuantType.Q5_K, false)]
    [InlineData(QuantType.Q4_K, true)]
    [InlineData(QuantType.Q5_K, true)]
    public void RequantizationUsesFp16RoundedScales(QuantType type, bool importance) =>
        Check(type, TestData.GgmlGenerateData(0f, 4096), importance ? Importance() : null, s_ggml with { Fp16Requantize = false }, expectDifferent: true);

    [Theory]
    [InlineData(QuantType.Q4_K, false)]
    [InlineData(QuantType.Q5_K, false)]
    [InlineData(QuantType.Q4_K, true)]
    [InlineData(QuantType.Q5_K, true)]
    public void RequantizationUsesIntegerSubScales(QuantType type, bool importance) =>
        Check(type, TestData.GgmlGenerateData(0f, 4096), importance ? Importance() : null, s_ggml with { IntegerSubScales = false }, expectDifferent: true);

    [Theory]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.Q5_K)]
    public void ImportancePathUsesTwiceTheMeanSquare(QuantType type) =>
        Check(type, TestData.GgmlGenerateData(0f, 4096), Importance(), s_ggml with { Sigma2TimesTwo = false }, expectDifferent: true);

    /// <summary>
    /// Sub-block 0 is five hundred times smaller than the rest: its 6-bit scale code rounds to 0, so requantization
    /// skips it and the bytes keep the codes of make_qkx2_quants' first pass (they decode to −dmin·m all the same).
    /// </summary>
    [Theory]
    [InlineData(QuantType.Q4_K, false)]
    [InlineData(QuantType.Q5_K, false)]
    [InlineData(QuantType.Q4_K, true)]
    [InlineData(QuantType.Q5_K, true)]
    public void ZeroScaleSubBlockKeepsFirstPassCodes(QuantType type, bool importance)
    {
        float[] x = SmallFirstSubBlock();
        float[]? qw = importance ? Importance() : null;
        byte[] ours = Check(type, x, qw, s_ggml with { KeepFirstPassCodes = false }, expectDifferent: true);

        for (int i = 0; i < x.Length / 256; ++i)
        {
            ReadOnlySpan<byte> block = ours.AsSpan(i * QuantFormat.Get(type).BytesPerBlock);
            KScales.Get(0, block[4..16], out int sc, out _);
            Assert.Equal(0, sc);
            ReadOnlySpan<byte> qs = block.Slice(type == QuantType.Q4_K ? 16 : 48, 32);
            Assert.Contains(qs.ToArray(), b => (b & 0xF) != 0);
        }
    }

    /// <summary>
    /// docs/testing.md#published-hashes: ggml built with FMA contraction gives other Q5_K bytes for generate_data (hash c2ad122f8ab5fd1a)
    /// and the same Q4_K bytes. The model with nearest_int's inlined add and the search sums fused reproduces both, and
    /// the library's plain float arithmetic gives the x86 reference bytes.
    /// </summary>
    [Fact]
    public void Q5_KNeedsPlainFloatArithmetic()
    {
        float[] x = TestData.GgmlGenerateData(0f, 4096);
        Quirks fma = s_ggml with { Fma = true };
        Check(QuantType.Q5_K, x, null, fma, expectDifferent: true);
        Assert.Equal("c2ad122f8ab5fd1a", GoldenHashes.Format(Fnv.Hash(Model.Quantize(QuantType.Q5_K, x, null, fma))));
        Assert.Equal("db0399b3eba7e05f", GoldenHashes.Format(Fnv.Hash(Model.Quantize(QuantType.Q4_K, x, null, fma))));

        var bytes = new byte[Quantizer.GetByteCount(QuantType.Q5_K, x.Length)];
        Quantizer.Quantize(QuantType.Q5_K, x, bytes, 4096);
        Assert.Equal("e4bc9578f48792bb", GoldenHashes.Format(Fnv.Hash(bytes)));
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// Quantizes with the library, compares with ggml (on x64, the byte reference) and with the model under ggml's
    /// quirks, then with the model under <paramref name="variant"/>: equal or different as asked. Returns our bytes.
    /// </summary>
    private static byte[] Check(QuantType type, float[] x, float[]? qw, Quirks variant, bool expectDifferent)
    {
        int rowLength = qw?.Length ?? x.Length;
        var ours = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, ours, rowLength, qw);

        if (GgmlNative.IsByteReference)
        {
            Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)type, x, rowLength, qw), ours, type);
        }

        AssertBytes.Equal(ours, Model.Quantize(type, x, qw, s_ggml), type);
        byte[] other = Model.Quantize(type, x, qw, variant);
        if (expectDifferent)
        {
            Assert.False(ours.AsSpan().SequenceEqual(other), $"{type}: the input does not exercise the quirk ({variant}).");
        }
        else
        {
            AssertBytes.Equal(ours, other, type);
        }

        return ours;
    }

    private static IEnumerable<float[]> Inputs()
    {
        yield return TestData.GgmlGenerateData(0f, 4096);
        yield return TestData.Gaussian(451, 1024, 1.0);
        yield return TestData.TransformerLike(452, 1024);
        yield return TestData.Uniform(453, 512, 0.25, 3.0);
        yield return SmallFirstSubBlock();
    }

    private static float[] Importance()
    {
        var w = new float[256];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = 1 + (i % 7);
        }

        return w;
    }

    private static float[] SmallFirstSubBlock()
    {
        float[] x = TestData.Gaussian(454, 1024, 1.0);
        for (int i = 0; i < x.Length; i += 256)
        {
            for (int l = 0; l < 32; ++l)
            {
                x[i + l] *= 0.002f;
            }
        }

        return x;
    }

    /// <summary>
    /// Q4_K / Q5_K quantization written out a second time, with every quirk a switch. Packing, the 6-bit code packing
    /// and make_qp_quants come from the library (they carry none of the quirks tested here).
    /// </summary>
    private static class Model
    {
        public static byte[] Quantize(QuantType type, float[] x, float[]? qw, Quirks q)
        {
            bool q4 = type == QuantType.Q4_K;
            int nmax = q4 ? 15 : 31;
            int blockBytes = q4 ? BlockQ4_K.Size : BlockQ5_K.Size;
            var result = new byte[x.Length / 256 * blockBytes];
            var L = new byte[256];
            var packed = new byte[12];
            var scales = new float[8];
            var mins = new float[8];
            var sw = new float[8];
            var weights = new float[32];
            var ls = new byte[8];
            var lm = new byte[8];
            int rowLength = qw?.Length ?? x.Length;
            for (int i = 0; i < x.Length / 256; ++i)
            {
                ReadOnlySpan<float> xb = x.AsSpan(256 * i, 256);
                float dFloat, mFloat;
                if (qw is null)
                {
                    float maxScale = 0, maxMin = 0;
                    for (int j = 0; j < 8; ++j)
                    {
                        ReadOnlySpan<float> xs = xb.Slice(32 * j, 32);
                        float sumX2 = 0;
                        for (int l = 0; l < 32; ++l)
                        {
                            sumX2 = MulAdd(q, xs[l], xs[l], sumX2);
                        }

                        float avX = MathF.Sqrt(sumX2 / 32);
                        for (int l = 0; l < 32; ++l)
                        {
                            weights[l] = avX + MathF.Abs(xs[l]);
                        }

                        scales[j] = Search(32, nmax, xs, weights, L.AsSpan(32 * j, 32), out mins[j],
                                           q4 ? -1f : -0.5f, 0.1f, q4 ? 20 : 15, qkx3: false, q);
                        maxScale = scales[j] > maxScale ? scales[j] : maxScale;
                        maxMin = mins[j] > maxMin ? mins[j] : maxMin;
                    }

                    float invScale = maxScale > 0 ? 63f / maxScale : 0f;
                    float invMin = maxMin > 0 ? 63f / maxMin : 0f;
                    for (int j = 0; j < 8; ++j)
                    {
                        KScales.Set(j, packed, Math.Min((byte)63, (byte)NearestIntOfProduct(q, invScale, scales[j])),
                                    Math.Min((byte)63, (byte)NearestIntOfProduct(q, invMin, mins[j])));
                    }

                    dFloat = maxScale / 63f;
                    mFloat = maxMin / 63f;
                }
                else
                {
                    ReadOnlySpan<float> qwb = qw.AsSpan(256 * i % rowLength, 256);
                    float sumX2 = 0;
                    for (int l = 0; l < 256; ++l)
                    {
                        sumX2 = MulAdd(q, xb[l], xb[l], sumX2);
                    }

                    float sigma2 = (q.Sigma2TimesTwo ? 2 * sumX2 : sumX2) / 256;
                    for (int j = 0; j < 8; ++j)
                    {
                        ReadOnlySpan<float> xs = xb.Slice(32 * j, 32);
                        float sumW = 0;
                        for (int l = 0; l < 32; ++l)
                        {
                            weights[l] = qwb[32 * j + l] * MathF.Sqrt(MulAdd(q, xs[l], xs[l], sigma2));
                            sumW += weights[l];
                        }

                        sw[j] = sumW;
                        scales[j] = Search(32, nmax, xs, weights, L.AsSpan(32 * j, 32), out mins[j], -0.9f, 0.05f, 36, qkx3: true, q);
                    }

                    dFloat = QuantSearch.MakeQpQuants(8, 63, scales, ls, sw);
                    mFloat = QuantSearch.MakeQpQuants(8, 63, mins, lm, sw);
                    for (int j = 0; j < 8; ++j)
                    {
                        KScales.Set(j, packed, q4 ? ls[j] : Math.Min((byte)63, ls[j]), q4 ? lm[j] : Math.Min((byte)63, lm[j]));
                    }
                }

                ushort d = Fp16.FromSingle(dFloat), dmin = Fp16.FromSingle(mFloat);
                float dr = q.Fp16Requantize ? Fp16.ToSingle(d) : dFloat;
                float mr = q.Fp16Requantize ? Fp16.ToSingle(dmin) : mFloat;
                for (int j = 0; j < 8; ++j)
                {
                    KScales.Get(j, packed, out int sc, out int m);
                    float dj = dr * sc;
                    if (dj == 0)
                    {
                        if (!q.KeepFirstPassCodes)
                        {
                            L.AsSpan(32 * j, 32).Clear();
                        }

                        continue;
                    }

                    float dm = mr * m;
                    if (!q.IntegerSubScales)
                    {
                        dj = scales[j];
                        dm = mins[j];
                    }

                    for (int l = 0; l < 32; ++l)
                    {
                        // (x + dmin·m) contracts to one FMA when the compiler fuses across statements
                        float v = q.Fma && q.IntegerSubScales ? MathF.FusedMultiplyAdd(mr, m, xb[32 * j + l]) : xb[32 * j + l] + dm;
                        L[32 * j + l] = (byte)Math.Clamp(Rounding.NearestInt(v / dj), 0, nmax);
                    }
                }

                Span<byte> block = result.AsSpan(blockBytes * i, blockBytes);
                if (q4)
                {
                    Q4_KReference.Format.Pack(block, d, dmin, packed, L);
                }
                else
                {
                    Q5_KReference.Format.Pack(block, d, dmin, packed, L);
                }
            }

            return result;
        }

        /// <summary>a·b − c·d; with FMA the second product is fused: a·b rounded, then −c·d + a·b in one rounding.</summary>
        private static float MulSub(Quirks q, float a, float b, float c, float d) => q.Fma ? MathF.FusedMultiplyAdd(-c, d, a * b) : a * b - c * d;

        /// <summary>
        /// nearest_int(a·b): nearest_int is inlined, so a contracting compiler fuses a·b + 1.5·2^23 and rounds the exact
        /// product once.
        /// </summary>
        private static int NearestIntOfProduct(Quirks q, float a, float b) =>
            q.Fma ? (BitConverter.SingleToInt32Bits(MathF.FusedMultiplyAdd(a, b, 12582912f)) & 0x007FFFFF) - 0x00400000
                  : Rounding.NearestInt(a * b);

        private static float MulAdd(Quirks q, float a, float b, float c) => q.Fma ? MathF.FusedMultiplyAdd(a, b, c) : a * b + c;

        /// <summary>make_qkx2_quants (<paramref name="qkx3"/> false) or make_qkx3_quants with explicit weights, use_mad = false.</summary>
        private static float Search(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<byte> L, out float theMin,
                                    float rmin, float rdelta, int nstep, bool qkx3, Quirks q)
        {
            float min = x[0], max = x[0];
            float sumW = w[0], sumX = sumW * x[0];
            for (int i = 1; i < n; ++i)
            {
                min = x[i] < min ? x[i] : min;
                max = x[i] > max ? x[i] : max;
                sumW += w[i];
                sumX = MulAdd(q, w[i], x[i], sumX);
            }

            min = min > 0 ? 0 : min;
            if (qkx3 ? max <= min : max == min)
            {
                L[..n].Clear();
                theMin = -min;
                return 0;
            }

            float dataMin = min;
            float iscale = nmax / (max - min);
            float scale = 1 / iscale;
            float best = 0;
            for (int i = 0; i < n; ++i)
            {
                L[i] = (byte)Math.Clamp(NearestIntOfProduct(q, iscale, x[i] - min), 0, nmax);
                float diff = MulAdd(q, scale, L[i], min) - x[i];
                best = MulAdd(q, w[i], diff * diff, best);
            }

            Span<byte> laux = stackalloc byte[n];
            for (int step = 0; step <= nstep; ++step)
            {
                float from = q.RunningMin ? min : dataMin;
                iscale = (MulAdd(q, rdelta, step, rmin) + nmax) / (max - from);
                float sumL = 0, sumL2 = 0, sumXL = 0;
                for (int i = 0; i < n; ++i)
                {
                    float v = iscale * (x[i] - from);
                    int l = qkx3 ? (v > 0 ? Rounding.NearestInt(MathF.Min(v, nmax)) : 0) : Math.Clamp(NearestIntOfProduct(q, iscale, x[i] - from), 0, nmax);
                    laux[i] = (byte)l;
                    float wl = w[i] * l;
                    sumL += wl;
                    sumL2 = MulAdd(q, wl, l, sumL2);
                    sumXL = MulAdd(q, wl, x[i], sumXL);
                }

                float D = MulSub(q, sumW, sumL2, sumL, sumL);
                if (D > 0)
                {
                    float thisScale = MulSub(q, sumW, sumXL, sumX, sumL) / D;
                    float thisMin = MulSub(q, sumL2, sumX, sumL, sumXL) / D;
                    if (thisMin > 0)
                    {
                        thisMin = 0;
                        thisScale = sumXL / sumL2;
                    }

                    float error = 0;
                    for (int i = 0; i < n; ++i)
                    {
                        float diff = MulAdd(q, thisScale, laux[i], thisMin) - x[i];
                        error = MulAdd(q, w[i], diff * diff, error);
                    }

                    if (error < best)
                    {
                        laux.CopyTo(L);
                        best = error;
                        scale = thisScale;
                        min = thisMin;
                    }
                }
            }

            theMin = -min;
            return scale;
        }
    }
}
