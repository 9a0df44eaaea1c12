using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The quantizer steps Q4_K and Q5_K share (docs/formats.md#q4_k, docs/formats.md#q5_k): per 32-value sub-block an affine search, then
/// 6-bit codes for the sub-block scales and mins under FP16 super-block scales, then every value requantized with
/// the FP16-rounded d / dmin and the integer codes. Only the code range (15 or 31), the search parameters and the
/// packing of the codes differ.
/// </summary>
internal static class KQuantAffine
{
    public const int BlockSize = 256;
    public const int SubBlocks = 8;

    /// <summary>
    /// <c>quantize_row_q4_K_ref</c> / <c>quantize_row_q5_K_ref</c> for one super-block: weights av_x + |x| with
    /// av_x = sqrt(Σx²/32) per sub-block, <c>make_qkx2_quants(32, nmax, rmin, rdelta, nstep)</c>, codes against
    /// the largest scale and min. Writes the 256 codes to <paramref name="L"/> and the packed scales.
    /// </summary>
    public static void QuantizeBlock(ReadOnlySpan<float> x, int nmax, float rmin, float rdelta, int nstep,
                                     Span<byte> L, Span<byte> packedScales, out ushort d, out ushort dmin)
    {
        Span<float> weights = stackalloc float[32];
        Span<byte> laux = stackalloc byte[32];
        Span<float> scales = stackalloc float[SubBlocks];
        Span<float> mins = stackalloc float[SubBlocks];
        for (int j = 0; j < SubBlocks; ++j)
        {
            ReadOnlySpan<float> xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l)
            {
                sumX2 += xs[l] * xs[l];
            }

            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; ++l)
            {
                weights[l] = avX + MathF.Abs(xs[l]);
            }

            scales[j] = QuantSearch.MakeQkx2Quants(32, nmax, xs, weights, L.Slice(32 * j, 32), out mins[j], laux, rmin, rdelta, nstep, false);
        }

        EncodeScales(scales, mins, packedScales, out d, out dmin);
        Requantize(x, nmax, d, dmin, packedScales, L);
    }

    /// <summary>
    /// The reference path after the sub-block searches: 6-bit codes against the largest scale and the largest min
    /// (both start at 0), d = FP16(max_scale/63), dmin = FP16(max_min/63).
    /// </summary>
    public static void EncodeScales(ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, Span<byte> packedScales, out ushort d, out ushort dmin)
    {
        float maxScale = 0; // the min is subtracted, so the scales are positive
        float maxMin = 0;
        for (int j = 0; j < SubBlocks; ++j)
        {
            if (scales[j] > maxScale)
            {
                maxScale = scales[j];
            }

            if (mins[j] > maxMin)
            {
                maxMin = mins[j];
            }
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < SubBlocks; ++j)
        {
            // uint8_t ls = nearest_int(...): a negative code wraps before the clamp to 63.
            byte ls = (byte)Rounding.NearestInt(invScale * scales[j]);
            byte lm = (byte)Rounding.NearestInt(invMin * mins[j]);
            KScales.Set(j, packedScales, Math.Min((byte)63, ls), Math.Min((byte)63, lm));
        }

        d = Fp16.FromSingle(maxScale / 63f);
        dmin = Fp16.FromSingle(maxMin / 63f);
    }

    /// <summary>
    /// <c>quantize_row_q4_K_impl</c> / <c>quantize_row_q5_K_impl</c> with an importance row for one super-block:
    /// σ² = 2·Σx²/256, w = qw·sqrt(σ² + x²), <c>make_qkx3_quants(32, nmax, −0.9, 0.05, 36)</c> per sub-block, then
    /// <c>make_qp_quants(8, 63, ·, Σw)</c> for the scales and for the mins, whose results are d and dmin.
    /// Q5_K clamps the codes to 63 before packing; Q4_K (<paramref name="clampCodes"/> false) packs them as they are.
    /// </summary>
    public static void QuantizeBlockImportance(ReadOnlySpan<float> x, ReadOnlySpan<float> qw, int nmax, bool clampCodes,
                                               Span<byte> L, Span<byte> packedScales, out ushort d, out ushort dmin)
    {
        Span<float> weights = stackalloc float[32];
        Span<byte> laux = stackalloc byte[32];
        Span<float> scales = stackalloc float[SubBlocks];
        Span<float> mins = stackalloc float[SubBlocks];
        Span<float> sw = stackalloc float[SubBlocks];

        float sigma2 = Sigma2(x);
        for (int j = 0; j < SubBlocks; ++j)
        {
            ReadOnlySpan<float> xs = x.Slice(32 * j, 32);
            QuantSearch.ImportanceWeights(xs, qw.Slice(32 * j, 32), sigma2, weights);
            float sumW = 0;
            for (int l = 0; l < 32; ++l)
            {
                sumW += weights[l];
            }

            sw[j] = sumW;
            scales[j] = QuantSearch.MakeQkx3Quants(32, nmax, xs, weights, L.Slice(32 * j, 32), out mins[j], laux, -0.9f, 0.05f, 36, false);
        }

        EncodeScalesImportance(clampCodes, scales, mins, sw, packedScales, out d, out dmin);
        Requantize(x, nmax, d, dmin, packedScales, L);
    }

    /// <summary>
    /// The importance path after the sub-block searches: <c>make_qp_quants(8, 63, ·, Σw)</c> for the scales and for the
    /// mins (their results are d and dmin), the codes packed (clamped to 63 for Q5_K only).
    /// </summary>
    public static void EncodeScalesImportance(bool clampCodes, ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, ReadOnlySpan<float> sw,
                                              Span<byte> packedScales, out ushort d, out ushort dmin)
    {
        Span<byte> ls = stackalloc byte[SubBlocks];
        Span<byte> lm = stackalloc byte[SubBlocks];
        float dBlock = QuantSearch.MakeQpQuants(SubBlocks, 63, scales, ls, sw);
        float mBlock = QuantSearch.MakeQpQuants(SubBlocks, 63, mins, lm, sw);
        PackCodes(clampCodes, ls, lm, packedScales);
        d = Fp16.FromSingle(dBlock);
        dmin = Fp16.FromSingle(mBlock);
    }

    /// <summary>The importance path's code packing: clamped to 63 for Q5_K only, as ggml does.</summary>
    public static void PackCodes(bool clampCodes, ReadOnlySpan<byte> ls, ReadOnlySpan<byte> lm, Span<byte> packedScales)
    {
        for (int j = 0; j < SubBlocks; ++j)
        {
            byte s = clampCodes ? Math.Min((byte)63, ls[j]) : ls[j];
            byte m = clampCodes ? Math.Min((byte)63, lm[j]) : lm[j];
            KScales.Set(j, packedScales, s, m);
        }
    }

    /// <summary>σ² of the importance path: 2·Σx²/256 over the super-block, summed in order.</summary>
    public static float Sigma2(ReadOnlySpan<float> x)
    {
        float sumX2 = 0;
        for (int l = 0; l < BlockSize; ++l)
        {
            sumX2 += x[l] * x[l];
        }

        return 2 * sumX2 / BlockSize;
    }

    /// <summary>
    /// Every value again with the stored FP16 d / dmin and the integer codes: l = clamp(nearest_int((x + dm)/d), 0, nmax).
    /// A sub-block whose effective scale d·sc is exactly 0 is skipped and keeps its first-pass codes.
    /// </summary>
    public static void Requantize(ReadOnlySpan<float> x, int nmax, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, Span<byte> L)
    {
        float df = Fp16.ToSingle(d);
        float dminf = Fp16.ToSingle(dmin);
        for (int j = 0; j < SubBlocks; ++j)
        {
            KScales.Get(j, packedScales, out int sc, out int m);
            float dj = df * sc;
            if (dj == 0)
            {
                continue;
            }

            float dm = dminf * m;
            for (int ii = 0; ii < 32; ++ii)
            {
                int l = Rounding.NearestInt((x[32 * j + ii] + dm) / dj);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, l));
            }
        }
    }

    /// <summary>The row loop of both quantizers: blocks in order, importance indexed by column.</summary>
    public static void QuantizeRow<TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TFormat : IKQuantAffineFormat
    {
        Span<byte> L = stackalloc byte[BlockSize];
        Span<byte> scales = stackalloc byte[12];
        for (int i = 0; i < x.Length / BlockSize; ++i)
        {
            ReadOnlySpan<float> xb = x.Slice(BlockSize * i, BlockSize);
            ushort d, dmin;
            if (importance.IsEmpty)
            {
                QuantizeBlock(xb, TFormat.Nmax, TFormat.Rmin, 0.1f, TFormat.Nstep, L, scales, out d, out dmin);
            }
            else
            {
                QuantizeBlockImportance(xb, importance.Slice(BlockSize * i, BlockSize), TFormat.Nmax, TFormat.ClampImportanceCodes,
                                        L, scales, out d, out dmin);
            }

            TFormat.Pack(destination.Slice(TFormat.BlockBytes * i, TFormat.BlockBytes), d, dmin, scales, L);
        }
    }
}

/// <summary>What distinguishes Q4_K from Q5_K in <see cref="KQuantAffine"/>.</summary>
internal interface IKQuantAffineFormat
{
    static abstract int BlockBytes { get; }
    static abstract int Nmax { get; }

    /// <summary>make_qkx2_quants' rmin in the reference path (rdelta is 0.1 for both).</summary>
    static abstract float Rmin { get; }
    static abstract int Nstep { get; }
    static abstract bool ClampImportanceCodes { get; }

    static abstract void Pack(Span<byte> block, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, ReadOnlySpan<byte> L);
}
