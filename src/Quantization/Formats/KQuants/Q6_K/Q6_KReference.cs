using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q6_K: <c>quantize_row_q6_K_ref</c>, <c>quantize_row_q6_K_impl</c>, <c>dequantize_row_q6_K</c>.</summary>
internal static class Q6_KReference
{
    private const int Qk = 256;

    /// <summary>
    /// Without importance this is the <c>_ref</c> algorithm (x² weights); with it, <c>_impl</c> passes the raw imatrix
    /// values as the weights of make_qx_quants (no σ² term). Everything else is shared.
    /// </summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ6_K> y = MemoryMarshal.Cast<byte, BlockQ6_K>(destination);
        Span<sbyte> L = stackalloc sbyte[Qk];
        Span<float> scales = stackalloc float[16];

        for (int i = 0; i < x.Length / Qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * Qk, Qk);
            for (int ib = 0; ib < 16; ++ib)
            {
                ReadOnlySpan<float> qw = importance.IsEmpty ? default : importance.Slice(Qk * i + 16 * ib, 16);
                scales[ib] = QuantSearch.MakeQxQuants(16, 32, xb.Slice(16 * ib, 16), L.Slice(16 * ib, 16), 1, qw);
            }

            FinishBlock(xb, scales, L, ref y[i]);
        }
    }

    /// <summary>
    /// Everything after the sub-block searches: the signed scale of largest magnitude (strict &gt;, first wins) sets
    /// d = −max/128, the 8-bit scales, requantization with the FP16-rounded d (a sub-block whose scale rounds to zero
    /// keeps its first-pass codes), packing. Shared with the lane-parallel kernel.
    /// </summary>
    public static void FinishBlock(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, Span<sbyte> L, ref BlockQ6_K b)
    {
        if (!EncodeScales(scales, ref b))
        {
            return;
        }

        float dAll = Fp16.ToSingle(b.D);
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * b.Scales[j];
            if (d == 0)
            {
                continue; // keeps the first-pass codes
            }

            for (int ii = 0; ii < 16; ++ii)
            {
                int l = Rounding.NearestInt(xb[16 * j + ii] / d);
                L[16 * j + ii] = (sbyte)(Math.Max(-32, Math.Min(31, l)) + 32);
            }
        }

        Pack(MemoryMarshal.AsBytes(L), ref b);
    }

    /// <summary>
    /// The scale step: the signed scale of largest magnitude (strict &gt;, first wins) sets d = −max/128 and the 8-bit
    /// scales. False (and a zeroed block) when every scale is negligible.
    /// </summary>
    public static bool EncodeScales(ReadOnlySpan<float> scales, ref BlockQ6_K b)
    {
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ++ib)
        {
            float absScale = MathF.Abs(scales[ib]);
            if (absScale > maxAbsScale)
            {
                maxAbsScale = absScale;
                maxScale = scales[ib];
            }
        }

        if (maxAbsScale < QuantSearch.GroupMaxEps)
        {
            b = default;
            return false;
        }

        float iscale = -128f / maxScale;
        b.D = Fp16.FromSingle(1 / iscale);
        for (int ib = 0; ib < 16; ++ib)
        {
            b.Scales[ib] = (sbyte)Math.Min(127, Rounding.NearestInt(iscale * scales[ib]));
        }

        return true;
    }

    /// <summary>Packs 256 six-bit codes into Ql (low nibbles) and Qh (bit pairs).</summary>
    public static void Pack(ReadOnlySpan<byte> L, ref BlockQ6_K b)
    {
        Span<byte> ql = b.Ql;
        Span<byte> qh = b.Qh;
        for (int j = 0; j < Qk; j += 128)
        {
            Span<byte> qlh = ql.Slice(j / 2, 64);
            Span<byte> qhh = qh.Slice(j / 4, 32);
            for (int l = 0; l < 32; ++l)
            {
                int q1 = L[j + l] & 0xF;
                int q2 = L[j + l + 32] & 0xF;
                int q3 = L[j + l + 64] & 0xF;
                int q4 = L[j + l + 96] & 0xF;
                qlh[l] = (byte)(q1 | (q3 << 4));
                qlh[l + 32] = (byte)(q2 | (q4 << 4));
                qhh[l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ6_K> x = MemoryMarshal.Cast<byte, BlockQ6_K>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            ReadOnlySpan<byte> qlAll = x[i].Ql;
            ReadOnlySpan<byte> qhAll = x[i].Qh;
            ReadOnlySpan<sbyte> scAll = x[i].Scales;
            for (int n = 0; n < Qk; n += 128)
            {
                ReadOnlySpan<byte> ql = qlAll.Slice(n / 2, 64);
                ReadOnlySpan<byte> qh = qhAll.Slice(n / 4, 32);
                ReadOnlySpan<sbyte> sc = scAll.Slice(n / 16, 8);
                Span<float> yh = y.Slice(i * Qk + n, 128);
                for (int l = 0; l < 32; ++l)
                {
                    int isc = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    yh[l] = d * sc[isc] * q1;
                    yh[l + 32] = d * sc[isc + 2] * q2;
                    yh[l + 64] = d * sc[isc + 4] * q3;
                    yh[l + 96] = d * sc[isc + 6] * q4;
                }
            }
        }
    }
}
