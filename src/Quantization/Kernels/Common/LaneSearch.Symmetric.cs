using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>Lane-parallel make_q3_quants, make_qkx2_quants with MAD error, and the 16-value sub-block transposition of the K-quant kernels.</summary>
internal static partial class LaneSearch
{
    /// <summary>Lane k of <paramref name="dst"/> gets the k-th of <paramref name="lanes"/> (4, 8 or 16) consecutive 16-value groups: dst[e·lanes + k] = src[16k + e].</summary>
    public static void Transpose16(ReadOnlySpan<float> src, int lanes, Span<float> dst)
    {
        if (src.Length < 16 * lanes || dst.Length < 16 * lanes || (lanes & 3) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(lanes), "lanes must be 4, 8 or 16 and the spans hold 16 values per lane.");
        }

        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        // 4×4 tiles: rows 4kb..4kb+3 (lanes) × columns 4eb..4eb+3 (elements).
        for (int kb = 0; kb < lanes; kb += 4)
        {
            for (int eb = 0; eb < 16; eb += 4)
            {
                ref float t = ref Unsafe.Add(ref s, 16 * kb + eb);
                Vector128<float> r0 = Vector128.LoadUnsafe(ref t);
                Vector128<float> r1 = Vector128.LoadUnsafe(ref t, 16);
                Vector128<float> r2 = Vector128.LoadUnsafe(ref t, 32);
                Vector128<float> r3 = Vector128.LoadUnsafe(ref t, 48);
                Transpose4x4(ref r0, ref r1, ref r2, ref r3);
                ref float o = ref Unsafe.Add(ref d, eb * lanes + kb);
                r0.StoreUnsafe(ref o);
                r1.StoreUnsafe(ref o, (nuint)lanes);
                r2.StoreUnsafe(ref o, (nuint)(2 * lanes));
                r3.StoreUnsafe(ref o, (nuint)(3 * lanes));
            }
        }
    }

    /// <summary>Transposes the 4×4 matrix whose rows are <paramref name="r0"/> .. <paramref name="r3"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(ref Vector128<float> r0, ref Vector128<float> r1, ref Vector128<float> r2, ref Vector128<float> r3)
    {
        if (Sse.IsSupported)
        {
            Vector128<float> t0 = Sse.UnpackLow(r0, r1);  // a0 b0 a1 b1
            Vector128<float> t1 = Sse.UnpackLow(r2, r3);  // c0 d0 c1 d1
            Vector128<float> t2 = Sse.UnpackHigh(r0, r1); // a2 b2 a3 b3
            Vector128<float> t3 = Sse.UnpackHigh(r2, r3); // c2 d2 c3 d3
            r0 = Sse.MoveLowToHigh(t0, t1);
            r1 = Sse.MoveHighToLow(t1, t0);
            r2 = Sse.MoveLowToHigh(t2, t3);
            r3 = Sse.MoveHighToLow(t3, t2);
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            Vector128<double> t0 = AdvSimd.Arm64.ZipLow(r0, r1).AsDouble();
            Vector128<double> t1 = AdvSimd.Arm64.ZipLow(r2, r3).AsDouble();
            Vector128<double> t2 = AdvSimd.Arm64.ZipHigh(r0, r1).AsDouble();
            Vector128<double> t3 = AdvSimd.Arm64.ZipHigh(r2, r3).AsDouble();
            r0 = AdvSimd.Arm64.ZipLow(t0, t1).AsSingle();
            r1 = AdvSimd.Arm64.ZipHigh(t0, t1).AsSingle();
            r2 = AdvSimd.Arm64.ZipLow(t2, t3).AsSingle();
            r3 = AdvSimd.Arm64.ZipHigh(t2, t3).AsSingle();
        }
        else
        {
            Vector128<float> a = r0, b = r1, c = r2, d = r3;
            r0 = Vector128.Create(a[0], b[0], c[0], d[0]);
            r1 = Vector128.Create(a[1], b[1], c[1], d[1]);
            r2 = Vector128.Create(a[2], b[2], c[2], d[2]);
            r3 = Vector128.Create(a[3], b[3], c[3], d[3]);
        }
    }

    // make_q3_quants(n, nmax, x, L, do_rmse = true) for every lane, in three parts so that a caller can pool the few
    // lanes that still change after the first sweep (most converge in it) instead of sweeping every lane of a vector
    // until its slowest lane is done: Q3Start (x²-weighted codes), Q3Sweeps (coordinate descent; each lane stops after
    // its own first sweep without a change, as the scalar loop does), Q3Finish (codes and scale).

    /// <summary>
    /// The first pass of make_q3_quants: the signed maximum, codes clamp(nearest_int(−nmax/max · x), −nmax, nmax − 1)
    /// into <paramref name="L"/>, the weights w = x·x and products w·x (bit for bit the values the scalar loop
    /// recomputes at every use) and the sums. Returns the mask of all-zero lanes (max |x| below the group epsilon).
    /// </summary>
    public static TVec Q3Start<TVec>(int n, int nmax, ref readonly float x, ref float L, ref float w, ref float wx, out TVec sumlx, out TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        TVec zero = TVec.Create(0);
        TVec lo = TVec.Create(-nmax), hi = TVec.Create(nmax - 1);
        TVec amax = zero, max = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            TVec ax = TVec.Abs(xi);
            TVec larger = TVec.GreaterThan(ax, amax);
            amax = TVec.Select(larger, ax, amax);
            max = TVec.Select(larger, xi, max);
        }

        TVec iscale = TVec.Create(-nmax) / max;
        sumlx = zero;
        suml2 = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            // |iscale·x| ≤ nmax; in an all-zero lane the codes are garbage until Q3Finish clears them.
            TVec l = TVec.Max(lo, TVec.Min(hi, SimdFloat.NearestSmallInt(iscale * xi)));
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec wi = xi * xi;
            TVec wxi = wi * xi;
            TVec.Store(wi, ref Unsafe.Add(ref w, i * c));
            TVec.Store(wxi, ref Unsafe.Add(ref wx, i * c));
            sumlx += wxi * l;
            suml2 += wi * l * l;
        }

        return TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
    }

    /// <summary>
    /// Up to <paramref name="maxSweeps"/> sweeps of make_q3_quants' coordinate descent over the lanes in
    /// <paramref name="active"/>, each lane stopping after its first sweep without a change. Returns the lanes that
    /// changed in the last sweep they ran (those a further sweep would continue).
    /// </summary>
    public static TVec Q3Sweeps<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref readonly float wx, ref float L,
                                      ref TVec sumlx, ref TVec suml2, TVec active, int maxSweeps)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref Unsafe.AsRef(in w);
        ref float wxr = ref Unsafe.AsRef(in wx);
        TVec zero = TVec.Create(0);
        TVec lo = TVec.Create(-nmax), hi = TVec.Create(nmax - 1);
        for (int itry = 0; itry < maxSweeps && TVec.AnyTrue(active); ++itry)
        {
            TVec changed = zero;
            TVec sumlx2 = sumlx * sumlx; // updated with sumlx
            for (int i = 0; i < n; ++i)
            {
                ref float li = ref Unsafe.Add(ref L, i * c);
                TVec Li = TVec.Load(in li);
                TVec wxi = TVec.Load(in Unsafe.Add(ref wxr, i * c));
                TVec slx = sumlx - wxi * Li;
                TVec candidate = active & TVec.GreaterThan(slx, zero);
                if (!TVec.AnyTrue(candidate))
                {
                    continue;
                }

                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec wi = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec sl2 = suml2 - wi * Li * Li;
                TVec newL = TVec.Max(lo, TVec.Min(hi, TVec.NearestInt(xi * sl2 / slx)));
                candidate &= TVec.NotEquals(newL, Li);
                slx += wxi * newL;
                sl2 += wi * newL * newL;
                TVec accept = candidate & TVec.GreaterThan(sl2, zero) & TVec.GreaterThan(slx * slx * suml2, sumlx2 * sl2);
                if (TVec.AnyTrue(accept))
                {
                    TVec.Store(TVec.Select(accept, newL, Li), ref li);
                    sumlx = TVec.Select(accept, slx, sumlx);
                    suml2 = TVec.Select(accept, sl2, suml2);
                    sumlx2 = sumlx * sumlx;
                    changed |= accept;
                }
            }

            active &= changed;
        }

        return active;
    }

    /// <summary>
    /// The end of make_q3_quants: codes L + nmax (0 .. 2·nmax − 1, all 0 in an all-zero lane) and the scale
    /// sumlx / suml2 (0 when suml2 is not positive or the lane is all zero).
    /// </summary>
    public static TVec Q3Finish<TVec>(int n, int nmax, ref float L, TVec allZero, TVec sumlx, TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        TVec zero = TVec.Create(0);
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
