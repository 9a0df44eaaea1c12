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

    /// <summary>
    /// <c>make_qkx2_quants(n, nmax, x, weights, L, &amp;the_min, Laux, rmin, rdelta, nstep, use_mad = true)</c> for every
    /// lane (Q2_K's search: weighted absolute error, no guard before rounding, the running min reused by later steps).
    /// Writes codes (0 .. nmax) to <paramref name="L"/> using <paramref name="laux"/> as scratch (n·Count floats each),
    /// returns the scales and sets <paramref name="theMin"/> (positive, subtracted).
    /// </summary>
    public static TVec MakeQkx2MadQuants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
                                               float rmin, float rdelta, int nstep, out TVec theMin)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref Unsafe.AsRef(in w);
        TVec min = TVec.Load(in xr), max = min;
        TVec sumW = TVec.Load(in wr);
        TVec sumX = sumW * min;
        for (int i = 1; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            min = TVec.Select(TVec.LessThan(xi, min), xi, min);
            max = TVec.Select(TVec.GreaterThan(xi, max), xi, max);
            sumW += wi;
            sumX += wi * xi;
        }

        TVec zero = TVec.Create(0);
        min = TVec.Select(TVec.GreaterThan(min, zero), zero, min);
        TVec spread = TVec.NotEquals(max, min); // lanes with max == min are flat: codes 0, scale 0
        TVec iscale = TVec.Create(nmax) / (max - min);
        TVec scale = TVec.Create(1) / iscale;
        TVec bestError = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * (xi - min)), 0, nmax);
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            bestError += wi * TVec.Abs(scale * l + min - xi);
        }

        for (int step = 0; step <= nstep; ++step)
        {
            iscale = TVec.Create(rmin + rdelta * step + nmax) / (max - min);
            TVec sumL = zero, sumL2 = zero, sumXL = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * (xi - min)), 0, nmax);
                TVec.Store(l, ref Unsafe.Add(ref laux, i * c));
                sumL += wi * l;
                sumL2 += wi * l * l;
                sumXL += wi * l * xi;
            }

            TVec D = sumW * sumL2 - sumL * sumL;
            TVec positive = TVec.GreaterThan(D, zero);
            if (!TVec.AnyTrue(positive))
            {
                continue;
            }

            TVec thisScale = (sumW * sumXL - sumX * sumL) / D;
            TVec thisMin = (sumL2 * sumX - sumL * sumXL) / D;
            TVec minAboveZero = TVec.GreaterThan(thisMin, zero);
            thisMin = TVec.Select(minAboveZero, zero, thisMin);
            thisScale = TVec.Select(minAboveZero, sumXL / sumL2, thisScale);
            TVec error = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                error += wi * TVec.Abs(thisScale * TVec.Load(in Unsafe.Add(ref laux, i * c)) + thisMin - xi);
            }

            TVec accept = positive & TVec.LessThan(error, bestError) & spread;
            if (TVec.AnyTrue(accept))
            {
                for (int i = 0; i < n; ++i)
                {
                    ref float li = ref Unsafe.Add(ref L, i * c);
                    TVec.Store(TVec.Select(accept, TVec.Load(in Unsafe.Add(ref laux, i * c)), TVec.Load(in li)), ref li);
                }

                bestError = TVec.Select(accept, error, bestError);
                scale = TVec.Select(accept, thisScale, scale);
                min = TVec.Select(accept, thisMin, min);
            }
        }

        for (int i = 0; i < n; ++i)
        {
            ref float li = ref Unsafe.Add(ref L, i * c);
            TVec.Store(TVec.Select(spread, TVec.Load(in li), zero), ref li);
        }

        theMin = TVec.Negate(min); // a true negation: −(+0) is −0, as in C
        return TVec.Select(spread, scale, zero);
    }
}
