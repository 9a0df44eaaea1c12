using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>Lane-parallel make_q3_quants, make_qkx2_quants with MAD error, and the 16-value sub-block transposition of the K-quant kernels.</summary>
internal static partial class LaneSearch
{
    /// <summary>Lane k of <paramref name="dst"/> gets the k-th of <paramref name="lanes"/> consecutive 16-value groups: dst[e·lanes + k] = src[16k + e].</summary>
    public static void Transpose16(ReadOnlySpan<float> src, int lanes, Span<float> dst)
    {
        for (int k = 0; k < lanes; k++)
        {
            for (int e = 0; e < 16; e++)
            {
                dst[e * lanes + k] = src[16 * k + e];
            }
        }
    }

    /// <summary>The inverse of <see cref="Transpose16"/> for codes (small non-negative integral floats) into bytes.</summary>
    public static void Untranspose16(ReadOnlySpan<float> src, int lanes, Span<byte> dst)
    {
        for (int k = 0; k < lanes; k++)
        {
            for (int e = 0; e < 16; e++)
            {
                dst[16 * k + e] = (byte)src[e * lanes + k];
            }
        }
    }

    /// <summary>
    /// <c>make_q3_quants(n, nmax, x, L, do_rmse = true)</c> for every lane: x²-weighted codes, then up to five sweeps
    /// of coordinate descent, each lane stopping after its own first sweep without a change, as the scalar loop does.
    /// Writes the codes (0 .. 2·nmax − 1) as floats to <paramref name="L"/> and returns the scales.
    /// </summary>
    public static TVec MakeQ3Quants<TVec>(int n, int nmax, ref readonly float x, ref float L)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        TVec zero = TVec.Create(0);
        TVec amax = zero, max = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec ax = TVec.Abs(xi);
            TVec larger = TVec.GreaterThan(ax, amax);
            amax = TVec.Select(larger, ax, amax);
            max = TVec.Select(larger, xi, max);
        }

        TVec allZero = TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
        TVec iscale = TVec.Create(-nmax) / max;
        TVec sumlx = zero, suml2 = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * xi), -nmax, nmax - 1);
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }

        TVec allOnes = TVec.NotEquals(zero, TVec.Create(1));
        TVec active = TVec.Select(allZero, zero, allOnes);
        for (int itry = 0; itry < 5 && TVec.AnyTrue(active); ++itry)
        {
            TVec changed = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                ref float li = ref Unsafe.Add(ref L, i * c);
                TVec Li = TVec.Load(in li);
                TVec w = xi * xi;
                TVec slx = sumlx - w * xi * Li;
                TVec candidate = active & TVec.GreaterThan(slx, zero);
                if (!TVec.AnyTrue(candidate))
                {
                    continue;
                }

                TVec sl2 = suml2 - w * Li * Li;
                TVec newL = SimdFloat.Clamp(TVec.NearestInt(xi * sl2 / slx), -nmax, nmax - 1);
                candidate &= TVec.NotEquals(newL, Li);
                slx += w * xi * newL;
                sl2 += w * newL * newL;
                TVec accept = candidate & TVec.GreaterThan(sl2, zero) & TVec.GreaterThan(slx * slx * suml2, sumlx * sumlx * sl2);
                if (TVec.AnyTrue(accept))
                {
                    TVec.Store(TVec.Select(accept, newL, Li), ref li);
                    sumlx = TVec.Select(accept, slx, sumlx);
                    suml2 = TVec.Select(accept, sl2, suml2);
                    changed |= accept;
                }
            }

            active &= changed;
        }

        TVec offset = TVec.Create(nmax);
        for (int i = 0; i < n; ++i)
        {
            ref float li = ref Unsafe.Add(ref L, i * c);
            TVec.Store(TVec.Select(allZero, zero, TVec.Load(in li) + offset), ref li);
        }

        TVec scale = TVec.Select(TVec.GreaterThan(suml2, zero), sumlx / suml2, zero);
        return TVec.Select(allZero, zero, scale);
    }
}
