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
        where TVec : struct, ISimdFloat<TVec> =>
        AffineSearch<TVec, Qkx2Squared>(n, nmax, in x, in w, ref L, ref laux, rmin, rdelta, nstep, out theMin);

    /// <summary>
    /// <c>make_qkx2_quants(..., use_mad = true)</c> for every lane: Q2_K's search, weighted absolute error.
    /// </summary>
    public static TVec MakeQkx2MadQuants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
                                               float rmin, float rdelta, int nstep, out TVec theMin)
        where TVec : struct, ISimdFloat<TVec> =>
        AffineSearch<TVec, Qkx2Absolute>(n, nmax, in x, in w, ref L, ref laux, rmin, rdelta, nstep, out theMin);

    /// <summary>
    /// <c>make_qkx3_quants(n, nmax, x, weights, L, &amp;the_min, Laux, rmin, rdelta, nstep, use_mad = false)</c> with
    /// explicit weights, for every lane: as make_qkx2_quants, but each step guards the value before rounding
    /// (<c>v &gt; 0 ? nearest_int(min(v, nmax)) : 0</c>), as ggml does.
    /// </summary>
    public static TVec MakeQkx3Quants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
                                            float rmin, float rdelta, int nstep, out TVec theMin)
        where TVec : struct, ISimdFloat<TVec> =>
        AffineSearch<TVec, Qkx3Squared>(n, nmax, in x, in w, ref L, ref laux, rmin, rdelta, nstep, out theMin);

    /// <summary>How a make_qkx*_quants variant measures error and rounds inside its steps (constants the JIT folds).</summary>
    private interface IAffineSearchKind
    {
        static abstract bool AbsoluteError { get; }
        static abstract bool GuardedSteps { get; }
    }

    private readonly struct Qkx2Squared : IAffineSearchKind
    {
        public static bool AbsoluteError => false;
        public static bool GuardedSteps => false;
    }

    private readonly struct Qkx2Absolute : IAffineSearchKind
    {
        public static bool AbsoluteError => true;
        public static bool GuardedSteps => false;
    }

    private readonly struct Qkx3Squared : IAffineSearchKind
    {
        public static bool AbsoluteError => false;
        public static bool GuardedSteps => true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Error<TVec, TKind>(TVec diff) where TVec : struct, ISimdFloat<TVec> where TKind : IAffineSearchKind =>
        TKind.AbsoluteError ? TVec.Abs(diff) : diff * diff;

    /// <summary>The one lane-parallel make_qkx2 / make_qkx3 search; the kinds differ only where <typeparamref name="TKind"/> says.</summary>
    private static TVec AffineSearch<TVec, TKind>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float laux,
                                                  float rmin, float rdelta, int nstep, out TVec theMin)
        where TVec : struct, ISimdFloat<TVec>
        where TKind : IAffineSearchKind
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
            bestError += wi * Error<TVec, TKind>(scale * l + min - xi);
        }

        for (int step = 0; step <= nstep; ++step)
        {
            iscale = TVec.Create(rmin + rdelta * step + nmax) / (max - min);
            TVec sumL = zero, sumL2 = zero, sumXL = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec v = iscale * (xi - min);
                // make_qkx3_quants guards v (min can sit at or near max); make_qkx2_quants clamps the rounded value.
                TVec l = TKind.GuardedSteps
                    ? TVec.Select(TVec.GreaterThan(v, zero), TVec.NearestInt(TVec.Min(v, TVec.Create(nmax))), zero)
                    : SimdFloat.Clamp(TVec.NearestInt(v), 0, nmax);
                TVec.Store(l, ref Unsafe.Add(ref laux, i * c));
                TVec wl = wi * l; // (wi·l)·l and (wi·l)·xi: the C expressions' own association
                sumL += wl;
                sumL2 += wl * l;
                sumXL += wl * xi;
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
                error += wi * Error<TVec, TKind>(thisScale * TVec.Load(in Unsafe.Add(ref laux, i * c)) + thisMin - xi);
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

    /// <summary>
    /// <c>make_qp_quants(n, nmax, x, L, weights)</c> for every lane: codes of non-negative values under a scale sweep
    /// and up to five sweeps of coordinate descent. Writes the codes as the C code's uint8_t holds them (a negative code
    /// wraps modulo 256) to <paramref name="L"/> and returns the scales. A lane whose sweep changes nothing would change
    /// nothing in a further sweep either, so running every lane until none changes gives each lane's scalar result.
    /// </summary>
    public static TVec MakeQpQuants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref Unsafe.AsRef(in w);
        TVec zero = TVec.Create(0);
        TVec fnmax = TVec.Create(nmax);
        TVec max = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            max = TVec.Select(TVec.GreaterThan(max, xi), max, xi); // C's MAX macro, literally
        }

        TVec allZero = TVec.LessThan(max, TVec.Create(QuantSearch.GroupMaxEps));
        TVec iscale = fnmax / max;
        TVec scale = TVec.Create(1) / iscale;
        TVec bestMse = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            TVec l = WrapByte(TVec.NearestInt(iscale * xi));
            TVec diff = xi - scale * l;
            bestMse += wi * diff * diff;
        }

        for (int step = -4; step <= 4; ++step)
        {
            if (step == 0)
            {
                continue;
            }

            TVec iscaleIs = TVec.Create(0.1f * step + nmax) / max;
            TVec scaleIs = TVec.Create(1) / iscaleIs;
            TVec mse = zero;
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec l = TVec.Min(fnmax, TVec.NearestInt(iscaleIs * xi));
                TVec diff = xi - scaleIs * l;
                mse += wi * diff * diff;
            }

            TVec better = TVec.LessThan(mse, bestMse);
            bestMse = TVec.Select(better, mse, bestMse);
            iscale = TVec.Select(better, iscaleIs, iscale);
        }

        TVec sumlx = zero, suml2 = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
            TVec l = TVec.Min(fnmax, TVec.NearestInt(iscale * xi));
            TVec.Store(WrapByte(l), ref Unsafe.Add(ref L, i * c));
            sumlx += wi * xi * l;
            suml2 += wi * l * l;
        }

        for (int itry = 0; itry < 5; ++itry)
        {
            TVec changed = zero; // all-ones in lanes where some code changed
            for (int i = 0; i < n; ++i)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                ref float li = ref Unsafe.Add(ref L, i * c);
                TVec l = TVec.Load(in li);
                TVec slx = sumlx - wi * xi * l;
                TVec sl2 = suml2 - wi * l * l;
                TVec candidate = TVec.GreaterThan(slx, zero) & TVec.GreaterThan(sl2, zero);
                TVec newL = TVec.Min(fnmax, TVec.NearestInt(xi * sl2 / slx));
                candidate &= TVec.NotEquals(newL, l);
                slx += wi * xi * newL;
                sl2 += wi * newL * newL;
                TVec accept = candidate & TVec.GreaterThan(slx * slx * suml2, sumlx * sumlx * sl2);
                TVec.Store(TVec.Select(accept, WrapByte(newL), l), ref li);
                sumlx = TVec.Select(accept, slx, sumlx);
                suml2 = TVec.Select(accept, sl2, suml2);
                changed |= accept;
            }

            if (!TVec.AnyTrue(changed))
            {
                break;
            }
        }

        for (int i = 0; i < n; ++i)
        {
            ref float li = ref Unsafe.Add(ref L, i * c);
            TVec.Store(TVec.Select(allZero, zero, TVec.Load(in li)), ref li);
        }

        TVec result = TVec.Select(TVec.GreaterThan(suml2, zero), sumlx / suml2, zero);
        return TVec.Select(allZero, zero, result);
    }

    /// <summary>
    /// An integral value in [−2^22, 2^22) as a uint8_t holds it (modulo 256), exactly: adding 1.5·2^23 puts the value
    /// in the low mantissa bits, and clearing their low eight bits leaves the multiple of 256 to subtract.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec WrapByte<TVec>(TVec l) where TVec : struct, ISimdFloat<TVec>
    {
        TVec v = l + TVec.Create(12582912f);
        return v - (v & TVec.Create(BitConverter.Int32BitsToSingle(unchecked((int)0xFFFFFF00))));
    }
}
