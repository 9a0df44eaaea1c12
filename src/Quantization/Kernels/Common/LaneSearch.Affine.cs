using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

internal static partial class LaneSearch
{
    /// <summary>
    /// <c>make_qkx2_quants(n, nmax, x, weights, L, &amp;the_min, Laux, rmin, rdelta, nstep, use_mad = false)</c> for every
    /// lane (nstep ≥ 0). Writes codes (0 .. nmax) to <paramref name="L"/> using <paramref name="laux"/> as scratch
    /// (n·Count floats each), returns the scales and sets <paramref name="theMin"/> (positive, subtracted). As in ggml,
    /// every step rounds against the most recently accepted min.
    /// </summary>
    public static TVec MakeQkx2Quants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
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
        TVec spread = TVec.GreaterThan(max, min); // max == min: codes 0, scale 0 (max < min cannot happen)
        TVec iscale = TVec.Create(nmax) / (max - min);
        TVec scale = TVec.Create(1) / iscale;
        TVec bestError = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            TVec l = SimdFloat.Clamp(TVec.NearestInt(iscale * (xi - min)), 0, nmax);
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec diff = scale * l + min - xi;
            bestError += wi * (diff * diff);
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
            TVec positive = TVec.GreaterThan(D, zero) & spread;
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
                TVec diff = thisScale * TVec.Load(in Unsafe.Add(ref laux, i * c)) + thisMin - xi;
                error += wi * (diff * diff);
            }

            TVec accept = positive & TVec.LessThan(error, bestError);
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
