using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>
/// The scale searches of <see cref="QuantSearch"/> run lane-parallel: lane k replays block k's scalar sequence
/// exactly (same operations, same order, no FMA), so a vector of blocks gives the bytes the scalar reference gives.
/// Inputs are transposed: element i of lane k sits at <c>[i·Count + k]</c>.
/// </summary>
internal static partial class LaneSearch
{
    /// <summary>
    /// <c>make_qx_quants(n, nmax, x, L, rmse_type = 1, weights)</c> with explicit weights, for every lane.
    /// Writes the codes (0 .. 2·nmax − 1) as floats to <paramref name="L"/> and returns the scales.
    /// </summary>
    public static TVec MakeQxQuants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        TVec amax = TVec.Create(0), max = TVec.Create(0);
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), i * c));
            TVec ax = TVec.Abs(xi);
            TVec larger = TVec.GreaterThan(ax, amax);
            amax = TVec.Select(larger, ax, amax);
            max = TVec.Select(larger, xi, max);
        }

        TVec allZero = TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
        TVec bestIscale = TVec.Create(-nmax) / max;
        Sums(n, nmax, bestIscale, in x, in w, out TVec sumlx, out TVec suml2);
        TVec scale = TVec.Select(TVec.NotEquals(suml2, TVec.Create(0)), sumlx / suml2, TVec.Create(0));
        TVec best = scale * sumlx;
        for (int step = -9; step <= 9; ++step)
        {
            if (step == 0)
            {
                continue;
            }

            TVec iscale = TVec.Create(-(nmax + 0.1f * step)) / max;
            Sums(n, nmax, iscale, in x, in w, out sumlx, out suml2);
            TVec accept = TVec.GreaterThan(suml2, TVec.Create(0)) & TVec.GreaterThan(sumlx * sumlx, best * suml2);
            if (TVec.AnyTrue(accept))
            {
                bestIscale = TVec.Select(accept, iscale, bestIscale);
                scale = TVec.Select(accept, sumlx / suml2, scale);
                best = TVec.Select(accept, scale * sumlx, best);
            }
        }

        // The codes of the accepted scale are recomputed once instead of at every acceptance.
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(bestIscale * xi), -nmax, nmax - 1) + TVec.Create(nmax);
            TVec.Store(TVec.Select(allZero, TVec.Create(0), l), ref Unsafe.Add(ref L, i * c));
        }

        return TVec.Select(allZero, TVec.Create(0), scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sums<TVec>(int n, int nmax, TVec iscale, ref readonly float x, ref readonly float w, out TVec sumlx, out TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        sumlx = TVec.Create(0);
        suml2 = TVec.Create(0);
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in w), i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * xi), -nmax, nmax - 1);
            sumlx += wi * xi * l;
            suml2 += wi * l * l;
        }
    }

    /// <summary>
    /// <c>make_qkx3_quants(n, nmax, x, weights, L, &amp;the_min, Laux, rmin, rdelta, nstep, use_mad = false)</c> with
    /// explicit weights, for every lane. Writes codes (0 .. nmax) to <paramref name="L"/> using <paramref name="laux"/>
    /// as scratch (n·Count floats each), returns the scales and sets <paramref name="theMin"/> (positive, subtracted).
    /// </summary>
    public static TVec MakeQkx3Quants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
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
        TVec fnmax = TVec.Create(nmax);
        min = TVec.Select(TVec.GreaterThan(min, zero), zero, min);
        TVec spread = TVec.GreaterThan(max, min); // lanes with max <= min are flat: codes 0, scale 0
        TVec iscale = fnmax / (max - min);
        TVec scale = TVec.Create(1) / iscale;
        TVec bestMad = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * (xi - min)), 0, nmax);
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec diff = scale * l + min - xi;
            bestMad += wi * (diff * diff);
        }

        for (int step = 0; step <= nstep; ++step)
        {
            iscale = TVec.Create(rmin + rdelta * step + nmax) / (max - min);
            TVec sumL = zero, sumL2 = zero, sumXL = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                // min is the best fit so far and can sit at or near max: guard v before rounding, as ggml does.
                TVec v = iscale * (xi - min);
                TVec l = TVec.Select(TVec.GreaterThan(v, zero), TVec.NearestInt(TVec.Min(v, fnmax)), zero);
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
            TVec mad = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec diff = thisScale * TVec.Load(in Unsafe.Add(ref laux, i * c)) + thisMin - xi;
                mad += wi * (diff * diff);
            }

            TVec accept = positive & TVec.LessThan(mad, bestMad) & spread;
            if (TVec.AnyTrue(accept))
            {
                for (int i = 0; i < n; ++i)
                {
                    ref float li = ref Unsafe.Add(ref L, i * c);
                    TVec.Store(TVec.Select(accept, TVec.Load(in Unsafe.Add(ref laux, i * c)), TVec.Load(in li)), ref li);
                }

                bestMad = TVec.Select(accept, mad, bestMad);
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
