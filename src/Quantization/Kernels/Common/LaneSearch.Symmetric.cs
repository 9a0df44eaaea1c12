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

    /// <summary>
    /// <c>make_q3_quants(n, nmax, x, L, do_rmse = true)</c> for every lane: x²-weighted codes, then up to five sweeps
    /// of coordinate descent, each lane stopping after its own first sweep without a change, as the scalar loop does.
    /// Writes the codes (0 .. 2·nmax − 1) as floats to <paramref name="L"/> and returns the scales.
    /// <paramref name="scratch"/> holds 2·n·Count floats: the weights w = x·x and the products w·x, computed once
    /// (bit for bit the values the scalar loop recomputes at every use).
    /// </summary>
    public static TVec MakeQ3Quants<TVec>(int n, int nmax, ref readonly float x, ref float L, ref float scratch)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref scratch;
        ref float wxr = ref Unsafe.Add(ref scratch, n * c);
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

        TVec allZero = TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
        TVec iscale = TVec.Create(-nmax) / max;
        TVec sumlx = zero, suml2 = zero;
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            // |iscale·x| ≤ nmax; in an all-zero lane the codes are garbage until the final select clears them.
            TVec l = TVec.Max(lo, TVec.Min(hi, SimdFloat.NearestSmallInt(iscale * xi)));
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec w = xi * xi;
            TVec wx = w * xi;
            TVec.Store(w, ref Unsafe.Add(ref wr, i * c));
            TVec.Store(wx, ref Unsafe.Add(ref wxr, i * c));
            sumlx += wx * l;
            suml2 += w * l * l;
        }

        TVec allOnes = TVec.NotEquals(zero, TVec.Create(1));
        TVec active = TVec.Select(allZero, zero, allOnes);
        for (int itry = 0; itry < 5 && TVec.AnyTrue(active); ++itry)
        {
            TVec changed = zero;
            TVec sumlx2 = sumlx * sumlx; // updated with sumlx
            for (int i = 0; i < n; ++i)
            {
                ref float li = ref Unsafe.Add(ref L, i * c);
                TVec Li = TVec.Load(in li);
                TVec wx = TVec.Load(in Unsafe.Add(ref wxr, i * c));
                TVec slx = sumlx - wx * Li;
                TVec candidate = active & TVec.GreaterThan(slx, zero);
                if (!TVec.AnyTrue(candidate))
                {
                    continue;
                }

                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                TVec w = TVec.Load(in Unsafe.Add(ref wr, i * c));
                TVec sl2 = suml2 - w * Li * Li;
                TVec newL = TVec.Max(lo, TVec.Min(hi, TVec.NearestInt(xi * sl2 / slx)));
                candidate &= TVec.NotEquals(newL, Li);
                slx += wx * newL;
                sl2 += w * newL * newL;
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
