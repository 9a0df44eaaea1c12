using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q3_K: <c>quantize_row_q3_K_ref</c>, <c>quantize_row_q3_K_impl</c>, <c>dequantize_row_q3_K</c>.</summary>
internal static class Q3_KReference
{
    private const int Qk = 256;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportance(x, destination, importance);
            return;
        }

        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        Span<sbyte> L = stackalloc sbyte[Qk];
        Span<float> scales = stackalloc float[16];

        for (int i = 0; i < x.Length / Qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * Qk, Qk);
            for (int j = 0; j < 16; ++j)
            {
                scales[j] = QuantSearch.MakeQ3Quants(16, 4, xb.Slice(16 * j, 16), L.Slice(16 * j, 16), true);
            }

            FinishReferenceBlock(xb, scales, L, ref y[i]);
        }
    }

    /// <summary>
    /// The reference path after the sub-block searches: the signed scale of largest magnitude (strict &gt;, first wins)
    /// gives iscale = −32/max, the 6-bit scales and d = FP16(1/iscale), then requantize and pack.
    /// </summary>
    public static void FinishReferenceBlock(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, Span<sbyte> L, ref BlockQ3_K b)
    {
        EncodeReferenceScales(scales, ref b);
        Finish(xb, ref b, L);
    }

    /// <summary>The reference path's scale step: 6-bit scales against the signed scale of largest magnitude (strict &gt;), d = 1/iscale.</summary>
    public static void EncodeReferenceScales(ReadOnlySpan<float> scales, ref BlockQ3_K b)
    {
        float maxScale = SignedMaxScale(scales);
        Span<byte> packed = b.Scales;
        packed.Clear();
        if (maxScale != 0)
        {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; ++j)
            {
                int l = (sbyte)Rounding.NearestInt(iscale * scales[j]); // ggml keeps it in an int8_t
                l = Math.Max(-32, Math.Min(31, l)) + 32;
                BlockQ3_K.SetScale(packed, j, l);
            }

            b.D = Fp16.FromSingle(1 / iscale);
        }
        else
        {
            b.D = Fp16.FromSingle(0f);
        }
    }

    /// <summary>The first of the 16 scales with the largest magnitude (strict &gt;, so NaN never wins), 0 if all are 0.</summary>
    public static float SignedMaxScale(ReadOnlySpan<float> scales)
    {
        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < 16; ++j)
        {
            float scale = MathF.Abs(scales[j]);
            if (scale > amax)
            {
                amax = scale;
                maxScale = scales[j];
            }
        }

        return maxScale;
    }

    private static void QuantizeRowImportance(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        Span<sbyte> L = stackalloc sbyte[Qk];
        Span<float> scales = stackalloc float[16];
        Span<float> weight = stackalloc float[16];
        Span<float> sw = stackalloc float[16];

        for (int i = 0; i < x.Length / Qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * Qk, Qk);
            float sumx2 = 0;
            for (int j = 0; j < Qk; ++j)
            {
                sumx2 += xb[j] * xb[j];
            }

            float sigma2 = 2 * sumx2 / Qk;
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
                scales[j] = QuantSearch.MakeQxQuants(16, 4, xs, L.Slice(16 * j, 16), 1, weight);
            }

            FinishImportanceBlock(xb, scales, sw, L, ref y[i]);
        }
    }

    /// <summary>
    /// The importance path after the sub-block searches: the scales themselves quantized by make_qx_quants(16, 32)
    /// under the sub-block weight sums (its L are the stored 6-bit values, its scale is d), then requantize and pack.
    /// </summary>
    public static void FinishImportanceBlock(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, ReadOnlySpan<float> sw, Span<sbyte> L, ref BlockQ3_K b)
    {
        EncodeImportanceScales(scales, sw, ref b);
        Finish(xb, ref b, L);
    }

    /// <summary>The importance path's scale step: make_qx_quants(16, 32) over the scales under the sub-block weight sums.</summary>
    public static void EncodeImportanceScales(ReadOnlySpan<float> scales, ReadOnlySpan<float> sw, ref BlockQ3_K b)
    {
        Span<sbyte> Ls = stackalloc sbyte[16];
        Span<byte> packed = b.Scales;
        packed.Clear();
        float dBlock = QuantSearch.MakeQxQuants(16, 32, scales, Ls, 1, sw);
        for (int j = 0; j < 16; ++j)
        {
            BlockQ3_K.SetScale(packed, j, Ls[j]);
        }

        b.D = Fp16.FromSingle(dBlock);
    }

    /// <summary>
    /// Requantizes with the FP16-rounded d and the 6-bit scales (a sub-block whose effective scale is exactly zero keeps
    /// its first-pass codes), then splits the codes 0..7 into hmask bits and low bit pairs.
    /// </summary>
    private static void Finish(ReadOnlySpan<float> xb, ref BlockQ3_K b, Span<sbyte> L)
    {
        float dAll = Fp16.ToSingle(b.D);
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * BlockQ3_K.GetScale(b.Scales, j);
            if (d == 0)
            {
                continue;
            }

            for (int ii = 0; ii < 16; ++ii)
            {
                int l = Rounding.NearestInt(xb[16 * j + ii] / d);
                L[16 * j + ii] = (sbyte)(Math.Max(-4, Math.Min(3, l)) + 4);
            }
        }

        Span<byte> hmask = b.Hmask;
        hmask.Clear();
        Span<byte> low = MemoryMarshal.AsBytes(L);
        for (int j = 0; j < Qk; ++j)
        {
            // Codes above 3 set their hmask bit and lose 4 (branch-free: the codes are 0..7).
            int high = L[j] >> 2;
            hmask[j % 32] |= (byte)(high << (j / 32));
            L[j] -= (sbyte)(high << 2);
        }

        BlockQ2_K.PackLow2(low, b.Qs);
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ3_K> x = MemoryMarshal.Cast<byte, BlockQ3_K>(source);
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float dAll = Fp16.ToSingle(x[i].D);
            ReadOnlySpan<byte> scales = x[i].Scales;
            ReadOnlySpan<byte> qs = x[i].Qs;
            ReadOnlySpan<byte> hm = x[i].Hmask;
            int isc = 0;
            int m = 1;
            for (int n = 0; n < Qk; n += 128)
            {
                ReadOnlySpan<byte> q = qs.Slice(n / 4, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 32; half += 16)
                    {
                        float dl = dAll * BlockQ3_K.GetScale(scales, isc++);
                        for (int l = 0; l < 16; ++l)
                        {
                            y[o++] = dl * (((q[half + l] >> shift) & 3) - ((hm[half + l] & m) != 0 ? 0 : 4));
                        }
                    }

                    m <<= 1;
                }
            }
        }
    }
}
