using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q2_K: <c>quantize_row_q2_K_ref</c>, <c>quantize_row_q2_K_impl</c>, <c>dequantize_row_q2_K</c>.</summary>
internal static class Q2_KReference
{
    private const int Qk = 256;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportance(x, destination, importance);
            return;
        }

        Span<BlockQ2_K> y = MemoryMarshal.Cast<byte, BlockQ2_K>(destination);
        Span<byte> L = stackalloc byte[Qk];
        Span<byte> Laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];

        for (int i = 0; i < x.Length / Qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * Qk, Qk);
            for (int j = 0; j < 16; ++j)
            {
                ReadOnlySpan<float> xs = xb.Slice(16 * j, 16);
                for (int l = 0; l < 16; ++l)
                {
                    weights[l] = MathF.Abs(xs[l]);
                }

                scales[j] = QuantSearch.MakeQkx2Quants(16, 3, xs, weights, L.Slice(16 * j, 16), out mins[j], Laux, -0.5f, 0.1f, 15, true);
            }

            FinishReferenceBlock(xb, scales, mins, L, ref y[i]);
        }
    }

    /// <summary>
    /// The reference path after the sub-block searches: 4-bit scales against max_scale/15 and mins against max_min/15
    /// (all zero when the maximum is not positive), then requantize with the FP16-rounded d/dmin and pack.
    /// </summary>
    public static void FinishReferenceBlock(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, Span<byte> L, ref BlockQ2_K b)
    {
        EncodeScales(scales, mins, ref b);
        Requantize(xb, ref b, L);
        BlockQ2_K.PackLow2(L, b.Qs);
    }

    /// <summary>The reference path's scale step: 4-bit scales and mins against max/15, d and dmin stored as FP16.</summary>
    public static void EncodeScales(ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, ref BlockQ2_K b)
    {
        const float q4scale = 15f;
        float maxScale = 0; // the min is subtracted, so scales are never negative
        float maxMin = 0;
        for (int j = 0; j < 16; ++j)
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

        if (maxScale > 0)
        {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < 16; ++j)
            {
                b.Scales[j] = (byte)Rounding.NearestInt(iscale * scales[j]);
            }

            b.D = Fp16.FromSingle(maxScale / q4scale);
        }
        else
        {
            ((Span<byte>)b.Scales).Clear();
            b.D = Fp16.FromSingle(0f);
        }

        if (maxMin > 0)
        {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < 16; ++j)
            {
                b.Scales[j] |= (byte)(Rounding.NearestInt(iscale * mins[j]) << 4);
            }

            b.Dmin = Fp16.FromSingle(maxMin / q4scale);
        }
        else
        {
            b.Dmin = Fp16.FromSingle(0f);
        }
    }

    private static void QuantizeRowImportance(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ2_K> y = MemoryMarshal.Cast<byte, BlockQ2_K>(destination);
        Span<byte> L = stackalloc byte[Qk];
        Span<byte> Laux = stackalloc byte[16];
        Span<float> weight = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        Span<float> sw = stackalloc float[16];

        for (int i = 0; i < x.Length / Qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * Qk, Qk);
            float sumx2 = 0;
            for (int j = 0; j < Qk; ++j)
            {
                sumx2 += xb[j] * xb[j];
            }

            float sigma2 = sumx2 / Qk; // Q2_K alone has no factor 2 here
            for (int j = 0; j < 16; ++j)
            {
                ReadOnlySpan<float> xs = xb.Slice(16 * j, 16);
                QuantSearch.ImportanceWeights(xs, importance.Slice(Qk * i + 16 * j, 16), sigma2, weight);
                float sumw = 0;
                for (int l = 0; l < 16; ++l)
                {
                    sumw += weight[l];
                }

                sw[j] = sumw;
                scales[j] = QuantSearch.MakeQkx3Quants(16, 3, xs, weight, L.Slice(16 * j, 16), out mins[j], Laux, -0.9f, 0.05f, 36, false);
            }

            FinishImportanceBlock(xb, scales, mins, sw, L, ref y[i]);
        }
    }

    /// <summary>
    /// The importance path after the sub-block searches: scales and mins quantized to 4 bits by make_qp_quants under
    /// the sub-block weight sums (their scales are d and dmin), then requantize and pack.
    /// </summary>
    public static void FinishImportanceBlock(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, ReadOnlySpan<float> sw,
                                             Span<byte> L, ref BlockQ2_K b)
    {
        Span<byte> Ls = stackalloc byte[16];
        Span<byte> Lm = stackalloc byte[16];
        float dm = QuantSearch.MakeQpQuants(16, 15, scales, Ls, sw);
        float mm = QuantSearch.MakeQpQuants(16, 15, mins, Lm, sw);
        b.D = Fp16.FromSingle(dm);
        b.Dmin = Fp16.FromSingle(mm);
        for (int j = 0; j < 16; ++j)
        {
            b.Scales[j] = (byte)(Ls[j] | (Lm[j] << 4));
        }

        Requantize(xb, ref b, L);
        BlockQ2_K.PackLow2(L, b.Qs);
    }

    /// <summary>
    /// Recomputes the codes with the FP16-rounded d and dmin and the 4-bit sub-scales. A sub-block whose effective
    /// scale is exactly zero is skipped and keeps the codes of the first pass (they reach the bytes).
    /// </summary>
    public static void Requantize(ReadOnlySpan<float> xb, ref BlockQ2_K b, Span<byte> L)
    {
        float dAll = Fp16.ToSingle(b.D);
        float mAll = Fp16.ToSingle(b.Dmin);
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * (b.Scales[j] & 0xF);
            if (d == 0)
            {
                continue;
            }

            float m = mAll * (b.Scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii)
            {
                int l = Rounding.NearestInt((xb[16 * j + ii] + m) / d);
                L[16 * j + ii] = (byte)Math.Max(0, Math.Min(3, l));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ2_K> x = MemoryMarshal.Cast<byte, BlockQ2_K>(source);
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            float min = Fp16.ToSingle(x[i].Dmin);
            ReadOnlySpan<byte> scales = x[i].Scales;
            ReadOnlySpan<byte> qs = x[i].Qs;
            int isc = 0;
            for (int n = 0; n < Qk; n += 128)
            {
                ReadOnlySpan<byte> q = qs.Slice(n / 4, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 32; half += 16)
                    {
                        byte sc = scales[isc++];
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; ++l)
                        {
                            y[o++] = dl * ((q[half + l] >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }
}
