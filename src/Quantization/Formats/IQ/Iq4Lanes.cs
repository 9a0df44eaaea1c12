using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// <see cref="Iq4Search"/> run lane-parallel: lane k replays the scalar search of one 32-value block exactly (the same
/// float operations in the same order, no FMA), so a vector of blocks gives the reference's bytes.
/// Inputs are transposed: element j of lane k sits at <c>[j·Count + k]</c>.
/// </summary>
internal static class Iq4Lanes
{
    /// <summary>
    /// The 15 midpoints between neighbouring levels. For every non-NaN x, ggml's <c>best_index_int8</c> (the binary
    /// search with <c>x − lo &lt; hi − x</c>, whose subtractions are exact wherever they decide) is the number of
    /// midpoints that are not above x; a NaN is "not below" every midpoint and so gets 15, as ggml's search gives.
    /// </summary>
    private static ReadOnlySpan<float> Midpoints => [-115.5f, -93.5f, -74f, -57f, -42f, -28.5f, -16f, -4.5f, 7f, 19f, 31.5f, 45.5f, 61f, 79f, 101f];

    /// <summary>kvalues_iq4nl[k + 1] − kvalues_iq4nl[k].</summary>
    private static ReadOnlySpan<float> Steps => [23f, 21f, 18f, 16f, 14f, 13f, 12f, 11f, 12f, 12f, 13f, 15f, 16f, 20f, 24f];

    /// <summary>kvalues_iq4nl[best_index_int8(x)] as a float, per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Level<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec>
    {
        TVec zero = TVec.Create(0);
        TVec q = TVec.Create(-127f);
        for (int k = 0; k < 15; k++)
        {
            q += TVec.Select(TVec.LessThan(x, TVec.Create(Midpoints[k])), zero, TVec.Create(Steps[k]));
        }

        return q;
    }

    /// <summary>best_index_int8(x) as a float, per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Index<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec>
    {
        TVec zero = TVec.Create(0), one = TVec.Create(1);
        TVec l = zero;
        for (int k = 0; k < 15; k++)
        {
            l += TVec.Select(TVec.LessThan(x, TVec.Create(Midpoints[k])), zero, one);
        }

        return l;
    }

    /// <summary>
    /// The per-block part of <c>quantize_row_iq4_nl_impl</c> with ntry = 7: the signed max, the first pass at
    /// d = −max/−127 and the 15 candidate scales (itry − 127)/max. Returns each lane's scale (0 below the epsilon).
    /// </summary>
    public static TVec SearchScales<TVec>(ref readonly float x, ref readonly float w) where TVec : struct, ISimdFloat<TVec>
    {
        const int ntry = 7;
        int c = TVec.Count;
        TVec zero = TVec.Create(0);
        TVec amax = zero, max = zero;
        for (int j = 0; j < Iq4Search.BlockSize; ++j)
        {
            TVec xj = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), j * c));
            TVec ax = TVec.Abs(xj);
            TVec larger = TVec.GreaterThan(ax, amax);
            amax = TVec.Select(larger, ax, amax);
            max = TVec.Select(larger, xj, max);
        }

        TVec small = TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
        TVec d = TVec.Negate(max) / TVec.Create(-127f);
        TVec id = TVec.Create(1f) / d;
        Sums(id, in x, in w, out TVec sumqx, out TVec sumq2);
        d = TVec.Select(TVec.GreaterThan(sumq2, zero), sumqx / sumq2, zero);
        TVec best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry)
        {
            id = TVec.Create(itry - 127) / max;
            Sums(id, in x, in w, out sumqx, out sumq2);
            TVec accept = TVec.GreaterThan(sumq2, zero) & TVec.GreaterThan(sumqx * sumqx, best * sumq2);
            if (TVec.AnyTrue(accept))
            {
                TVec dNew = sumqx / sumq2;
                d = TVec.Select(accept, dNew, d);
                best = TVec.Select(accept, dNew * sumqx, best);
            }
        }

        return TVec.Select(small, zero, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sums<TVec>(TVec id, ref readonly float x, ref readonly float w, out TVec sumqx, out TVec sumq2)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        sumqx = TVec.Create(0);
        sumq2 = TVec.Create(0);
        for (int j = 0; j < Iq4Search.BlockSize; ++j)
        {
            TVec xj = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), j * c));
            TVec wj = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in w), j * c));
            TVec q = Level(id * xj);
            TVec wq = wj * q;
            sumqx += wq * xj;
            sumq2 += wq * q;
        }
    }

    /// <summary>Codes best_index_int8(mul·x) of 32 values per lane, written transposed to <paramref name="L"/>.</summary>
    public static void Codes<TVec>(TVec mul, ref readonly float x, ref float L) where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        for (int j = 0; j < Iq4Search.BlockSize; ++j)
        {
            TVec xj = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), j * c));
            TVec.Store(Index(mul * xj), ref Unsafe.Add(ref L, j * c));
        }
    }

    /// <summary>
    /// Copies the 32 values <paramref name="x"/> into lane <paramref name="lane"/> of the
    /// transposed buffers with its weights: qw·sqrt(sigma2 + x²) with importance, x² without.
    /// </summary>
    public static void LoadLane(ReadOnlySpan<float> x, ReadOnlySpan<float> qw, float sigma2, int lane, int count,
                                Span<float> xt, Span<float> wt)
    {
        for (int j = 0; j < Iq4Search.BlockSize; ++j)
        {
            float v = x[j];
            xt[j * count + lane] = v;
            wt[j * count + lane] = qw.IsEmpty ? v * v : qw[j] * MathF.Sqrt(sigma2 + v * v);
        }
    }

    /// <summary>Zeroes lane <paramref name="lane"/> (a padding block: below the epsilon, its outputs unused).</summary>
    public static void ClearLane(int lane, int count, Span<float> xt, Span<float> wt)
    {
        for (int j = 0; j < Iq4Search.BlockSize; ++j)
        {
            xt[j * count + lane] = 0;
            wt[j * count + lane] = 0;
        }
    }

    /// <summary>Packs lane <paramref name="lane"/>'s 32 transposed codes into 16 bytes in Q4_0 nibble order.</summary>
    public static void PackLane(ReadOnlySpan<float> L, int lane, int count, Span<byte> qs)
    {
        for (int j = 0; j < 16; ++j)
        {
            qs[j] = (byte)((int)L[j * count + lane] | ((int)L[(j + 16) * count + lane] << 4));
        }
    }

    /// <summary>Σx² over a super-block in order, times 2/size: ggml's sigma2.</summary>
    public static float Sigma2(ReadOnlySpan<float> x)
    {
        float sigma2 = 0;
        for (int j = 0; j < x.Length; ++j)
        {
            sigma2 += x[j] * x[j];
        }

        return sigma2 * (2.0f / x.Length);
    }

    /// <summary>IQ4_NL (<c>quantize_iq4_nl</c>, ntry = 7) on one row, Count blocks at a time.</summary>
    public static void QuantizeRowNL<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        const int bs = Iq4Search.BlockSize;
        int c = TVec.Count;
        Span<float> xt = stackalloc float[bs * c];
        Span<float> wt = stackalloc float[bs * c];
        Span<float> lt = stackalloc float[bs * c];
        Span<float> lane = stackalloc float[c];
        Span<BlockIQ4_NL> y = MemoryMarshal.Cast<byte, BlockIQ4_NL>(destination);
        int nblocks = x.Length / bs;
        for (int g = 0; g < nblocks; g += c)
        {
            int n = Math.Min(c, nblocks - g);
            for (int k = 0; k < c; k++)
            {
                if (k < n)
                {
                    ReadOnlySpan<float> xb = x.Slice((g + k) * bs, bs);
                    ReadOnlySpan<float> qw = importance.IsEmpty ? default : importance.Slice((g + k) * bs, bs);
                    LoadLane(xb, qw, qw.IsEmpty ? 0 : Sigma2(xb), k, c, xt, wt);
                }
                else
                {
                    ClearLane(k, c, xt, wt);
                }
            }

            TVec.Store(SearchScales<TVec>(in xt[0], in wt[0]), ref lane[0]);
            for (int k = 0; k < n; k++)
            {
                float scale = lane[k];
                y[g + k].D = Fp16.FromSingle(scale);
                lane[k] = scale != 0 ? 1 / scale : 0;
            }

            Codes(TVec.Load(in lane[0]), in xt[0], ref lt[0]);
            for (int k = 0; k < n; k++)
            {
                PackLane(lt, k, c, y[g + k].Qs);
            }
        }
    }

    /// <summary>IQ4_XS (<c>quantize_iq4_xs</c>) on one row: one lane per 32-value sub-block.</summary>
    public static void QuantizeRowXS<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        const int bs = Iq4Search.BlockSize;
        const int sb = IQ4_XSReference.SuperBlockSize;
        const int nsub = BlockIQ4_XS.SubBlocks;
        int c = TVec.Count;
        int chunk = Math.Max(c, nsub); // sub-blocks per step: whole super-blocks and whole vectors
        Span<float> xt = stackalloc float[bs * chunk];
        Span<float> wt = stackalloc float[bs * chunk];
        Span<float> lt = stackalloc float[bs * chunk];
        Span<float> lane = stackalloc float[chunk];
        Span<float> sigma2 = stackalloc float[chunk / nsub];
        Span<BlockIQ4_XS> y = MemoryMarshal.Cast<byte, BlockIQ4_XS>(destination);
        int nsuper = x.Length / sb;
        for (int s0 = 0; s0 < nsuper; s0 += chunk / nsub)
        {
            int ns = Math.Min(chunk / nsub, nsuper - s0);
            for (int s = 0; s < ns; s++)
            {
                sigma2[s] = importance.IsEmpty ? 0 : Sigma2(x.Slice((s0 + s) * sb, sb));
            }

            // Phase 1: the sub-block scale searches, c lanes at a time.
            for (int g = 0; g < chunk; g += c)
            {
                Span<float> xg = xt.Slice(g * bs, c * bs), wg = wt.Slice(g * bs, c * bs);
                for (int k = 0; k < c; k++)
                {
                    int sub = g + k;
                    if (sub / nsub < ns)
                    {
                        int offset = s0 * sb + sub * bs;
                        ReadOnlySpan<float> qw = importance.IsEmpty ? default : importance.Slice(offset, bs);
                        LoadLane(x.Slice(offset, bs), qw, sigma2[sub / nsub], k, c, xg, wg);
                    }
                    else
                    {
                        ClearLane(k, c, xg, wg);
                    }
                }

                TVec.Store(SearchScales<TVec>(in xg[0], in wg[0]), ref lane[g]);
            }

            // Phase 2 (scalar, 8 values per super-block): d from the largest scale, 6-bit sub-block scales, and each
            // sub-block's 1/(d·l) with the unrounded d.
            for (int s = 0; s < ns; s++)
            {
                ref BlockIQ4_XS block = ref y[s0 + s];
                Span<float> scales = lane.Slice(s * nsub, nsub);
                float maxScale = 0, amaxScale = 0;
                for (int ib = 0; ib < nsub; ++ib)
                {
                    float absD = MathF.Abs(scales[ib]);
                    if (absD > amaxScale)
                    {
                        amaxScale = absD;
                        maxScale = scales[ib];
                    }
                }

                float d = -maxScale / 32;
                block.D = Fp16.FromSingle(d);
                float id = d != 0 ? 1 / d : 0.0f;
                ushort scalesH = 0;
                for (int ib = 0; ib < nsub; ++ib)
                {
                    int l = Math.Max(-32, Math.Min(31, Rounding.NearestInt(id * scales[ib])));
                    float dl = d * l;
                    scales[ib] = dl != 0 ? 1 / dl : 0.0f;
                    l += 32;
                    if (ib % 2 == 0)
                    {
                        block.ScalesL[ib / 2] = (byte)(l & 0xF);
                    }
                    else
                    {
                        block.ScalesL[ib / 2] |= (byte)((l & 0xF) << 4);
                    }

                    scalesH |= (ushort)((l >> 4) << (2 * ib));
                }

                block.ScalesH = scalesH;
            }

            // Phase 3: the final codes.
            for (int g = 0; g < chunk; g += c)
            {
                Codes(TVec.Load(in lane[g]), in xt[g * bs], ref lt[g * bs]);
                for (int k = 0; k < c; k++)
                {
                    int sub = g + k;
                    if (sub / nsub < ns)
                    {
                        Span<byte> qs = y[s0 + sub / nsub].Qs;
                        PackLane(lt.Slice(g * bs, c * bs), k, c, qs.Slice(16 * (sub % nsub), 16));
                    }
                }
            }
        }
    }
}
