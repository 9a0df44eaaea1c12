using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels;

/// <summary>Lane-parallel make_q3_quants, make_qkx2_quants with MAD error, and the 16-value sub-block transposition of the K-quant kernels.</summary>
internal static partial class LaneSearch
{
    /// <summary>
    /// Lane k of <paramref name="dst"/> gets the 16 values of group k of <paramref name="lanes"/> (4, 8 or 16) groups
    /// <paramref name="stride"/> floats apart (16: consecutive groups): dst[e·lanes + k] = src[stride·k + e].
    /// </summary>
    public static void Transpose16(ReadOnlySpan<float> src, int lanes, Span<float> dst, int stride = 16)
    {
        if (stride < 16 || src.Length < stride * (lanes - 1) + 16 || dst.Length < 16 * lanes || (lanes & 3) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(lanes), "lanes must be 4, 8 or 16 and the spans hold 16 values per lane.");
        }

        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        if (lanes == 16 && Avx512F.IsSupported)
        {
            Transpose16x16(ref s, stride, ref d);
            return;
        }

        // 4×4 tiles: rows 4kb..4kb+3 (lanes) × columns 4eb..4eb+3 (elements).
        for (int kb = 0; kb < lanes; kb += 4)
        {
            for (int eb = 0; eb < 16; eb += 4)
            {
                ref float t = ref Unsafe.Add(ref s, stride * kb + eb);
                Vector128<float> r0 = Vector128.LoadUnsafe(ref t);
                Vector128<float> r1 = Vector128.LoadUnsafe(ref t, (nuint)stride);
                Vector128<float> r2 = Vector128.LoadUnsafe(ref t, (nuint)(2 * stride));
                Vector128<float> r3 = Vector128.LoadUnsafe(ref t, (nuint)(3 * stride));
                Transpose4x4(ref r0, ref r1, ref r2, ref r3);
                ref float o = ref Unsafe.Add(ref d, eb * lanes + kb);
                r0.StoreUnsafe(ref o);
                r1.StoreUnsafe(ref o, (nuint)lanes);
                r2.StoreUnsafe(ref o, (nuint)(2 * lanes));
                r3.StoreUnsafe(ref o, (nuint)(3 * lanes));
            }
        }
    }

    /// <summary>
    /// The 16×16 transposition in registers: 16 row loads, four rounds of 16 shuffles (pairs of floats, pairs of
    /// doubles, then 128-bit blocks twice) and 16 full-width stores, which the next loads can take from the store buffer.
    /// </summary>
    private static void Transpose16x16(ref float s, int stride, ref float d)
    {
        Quad(ref s, stride, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3);
        Quad(ref Unsafe.Add(ref s, 4 * stride), stride, out Vector512<float> u4, out Vector512<float> u5, out Vector512<float> u6, out Vector512<float> u7);
        Quad(ref Unsafe.Add(ref s, 8 * stride), stride, out Vector512<float> u8, out Vector512<float> u9, out Vector512<float> u10, out Vector512<float> u11);
        Quad(ref Unsafe.Add(ref s, 12 * stride), stride, out Vector512<float> u12, out Vector512<float> u13, out Vector512<float> u14, out Vector512<float> u15);
        Blocks(u0, u4, u8, u12, ref d);
        Blocks(u1, u5, u9, u13, ref Unsafe.Add(ref d, 16));
        Blocks(u2, u6, u10, u14, ref Unsafe.Add(ref d, 32));
        Blocks(u3, u7, u11, u15, ref Unsafe.Add(ref d, 48));

        // Rows 0..3 at r, stride apart: u_j's 128-bit block b holds the four rows' element 4b + j.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Quad(ref float r, int stride, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3)
        {
            Vector512<float> r0 = Vector512.LoadUnsafe(ref r), r1 = Vector512.LoadUnsafe(ref r, (nuint)stride);
            Vector512<float> r2 = Vector512.LoadUnsafe(ref r, (nuint)(2 * stride)), r3 = Vector512.LoadUnsafe(ref r, (nuint)(3 * stride));
            Vector512<double> t0 = Avx512F.UnpackLow(r0, r1).AsDouble(), t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
            Vector512<double> t2 = Avx512F.UnpackLow(r2, r3).AsDouble(), t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
            u0 = Avx512F.UnpackLow(t0, t2).AsSingle();
            u1 = Avx512F.UnpackHigh(t0, t2).AsSingle();
            u2 = Avx512F.UnpackLow(t1, t3).AsSingle();
            u3 = Avx512F.UnpackHigh(t1, t3).AsSingle();
        }

        // The j-th u of each row quad: output rows j, 4 + j, 8 + j, 12 + j (each 16 floats apart from the last).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Blocks(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> e, ref float o)
        {
            Vector512<float> v0 = Avx512F.Shuffle4x128(a, b, 0x88), v1 = Avx512F.Shuffle4x128(a, b, 0xDD);
            Vector512<float> w0 = Avx512F.Shuffle4x128(c, e, 0x88), w1 = Avx512F.Shuffle4x128(c, e, 0xDD);
            Avx512F.Shuffle4x128(v0, w0, 0x88).StoreUnsafe(ref o);
            Avx512F.Shuffle4x128(v1, w1, 0x88).StoreUnsafe(ref o, 64);
            Avx512F.Shuffle4x128(v0, w0, 0xDD).StoreUnsafe(ref o, 128);
            Avx512F.Shuffle4x128(v1, w1, 0xDD).StoreUnsafe(ref o, 192);
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

    // make_q3_quants(n, nmax, x, L, do_rmse = true) for every lane, in parts: Q3Start (x²-weighted codes),
    // Q3FirstSweepChanges (whether the descent changes anything), Q3Sweeps (the coordinate descent over two vectors
    // of lanes at once; each lane stops after its own first sweep without a change, as the scalar loop does) and
    // Q3Scale; the codes stay signed (the caller adds nmax).

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
        // The scalar loop keeps the first x of the largest |x| (strict >). The largest |x| by four independent Max
        // chains, then the first x that attains it by a chain of one-cycle selects from the back; the inputs are
        // finite, so equality finds exactly that x. (With all |x| = 0 max may be −0 instead of 0: such a lane is
        // all-zero and its codes and scale are cleared.)
        TVec m0 = zero, m1 = zero, m2 = zero, m3 = zero;
        int i4 = 0;
        for (; i4 + 4 <= n; i4 += 4)
        {
            ref float xi = ref Unsafe.Add(ref xr, i4 * c);
            m0 = TVec.Max(m0, TVec.Abs(TVec.Load(in xi)));
            m1 = TVec.Max(m1, TVec.Abs(TVec.Load(in Unsafe.Add(ref xi, c))));
            m2 = TVec.Max(m2, TVec.Abs(TVec.Load(in Unsafe.Add(ref xi, 2 * c))));
            m3 = TVec.Max(m3, TVec.Abs(TVec.Load(in Unsafe.Add(ref xi, 3 * c))));
        }

        for (; i4 < n; ++i4)
        {
            m0 = TVec.Max(m0, TVec.Abs(TVec.Load(in Unsafe.Add(ref xr, i4 * c))));
        }

        TVec amax = TVec.Max(TVec.Max(m0, m1), TVec.Max(m2, m3));
        TVec max = zero;
        for (int i = n - 1; i >= 0; --i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            max = TVec.Select(TVec.NotEquals(TVec.Abs(xi), amax), max, xi);
        }

        TVec iscale = TVec.Create(-nmax) / max;
        TVec slx = zero, sl2 = zero; // locals: accumulating through the out parameters would go through memory
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
            // |iscale·x| ≤ nmax; an all-zero lane's codes are garbage (the caller emits zeros for it).
            TVec l = TVec.RoundClamp(iscale * xi, -nmax, nmax - 1);
            TVec.Store(l, ref Unsafe.Add(ref L, i * c));
            TVec wi = xi * xi;
            TVec wxi = wi * xi;
            TVec.Store(wi, ref Unsafe.Add(ref w, i * c));
            TVec.Store(wxi, ref Unsafe.Add(ref wx, i * c));
            slx += wxi * l;
            sl2 += wi * l * l;
        }

        sumlx = slx;
        suml2 = sl2;
        return TVec.LessThan(amax, TVec.Create(QuantSearch.GroupMaxEps));
    }

    /// <summary>
    /// The lanes among <paramref name="active"/> whose first make_q3_quants sweep would change a code. Until a lane's
    /// first change its sums are the initial ones, so every element is tested against them at once, without a chain
    /// or a branch; a lane with no change there ends its descent (the scalar loop's first sweep changes nothing and it
    /// stops), any other lane must run the descent from the start.
    /// </summary>
    public static uint Q3FirstSweepChanges<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref readonly float wx, ref readonly float L,
                                                 TVec sumlx, TVec suml2, uint active)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref Unsafe.AsRef(in w);
        ref float wxr = ref Unsafe.AsRef(in wx);
        ref float lr = ref Unsafe.AsRef(in L);
        TVec zero = TVec.Create(0);
        TVec lo = TVec.Create(-nmax), hi = TVec.Create(nmax - 1);
        TVec sumlx2 = sumlx * sumlx;
        uint changes = 0;
        for (int i = 0; i < n; ++i)
        {
            int o = i * c;
            TVec Li = TVec.Load(in Unsafe.Add(ref lr, o));
            TVec wxi = TVec.Load(in Unsafe.Add(ref wxr, o));
            TVec slx = sumlx - wxi * Li;
            changes |= Q3Trial(TVec.Load(in Unsafe.Add(ref xr, o)), TVec.Load(in Unsafe.Add(ref wr, o)), wxi, Li, slx, suml2, sumlx2,
                               TVec.GreaterThanBits(slx, zero), lo, hi).Accept;
        }

        return changes & active;
    }

    /// <summary>
    /// Up to <paramref name="maxSweeps"/> sweeps of make_q3_quants' coordinate descent over two independent groups
    /// of lanes: group A at <paramref name="x"/>, <paramref name="w"/>, <paramref name="wx"/>, <paramref name="L"/>
    /// and group B <paramref name="n"/>·Count floats after each (element i of a group at [i·Count]), two chains in
    /// flight. Lanes whose bit is clear in the active masks and lanes that had a sweep without a change are left as
    /// they are; on return the masks hold the lanes that changed in the last sweep they ran (those a further sweep
    /// would continue).
    /// </summary>
    /// <remarks>
    /// The lane conditions are kept as bits in general registers: a comparison is one compare and one move there, and
    /// the selects that apply an accepted code, rare after the first sweeps, rebuild their vector mask from the bits.
    /// </remarks>
    public static void Q3Sweeps<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref readonly float wx, ref float L,
                                      ref TVec sumlxRefA, ref TVec suml2RefA, ref uint activeRefA,
                                      ref TVec sumlxRefB, ref TVec suml2RefB, ref uint activeRefB, int maxSweeps)
        where TVec : struct, ISimdFloat<TVec>
    {
        // In registers, not through the references.
        TVec sumlxA = sumlxRefA, suml2A = suml2RefA, sumlxB = sumlxRefB, suml2B = suml2RefB;
        uint activeA = activeRefA, activeB = activeRefB;
        int c = TVec.Count;
        int gb = n * c;
        ref float xr = ref Unsafe.AsRef(in x);
        ref float wr = ref Unsafe.AsRef(in w);
        ref float wxr = ref Unsafe.AsRef(in wx);
        TVec zero = TVec.Create(0);
        TVec lo = TVec.Create(-nmax), hi = TVec.Create(nmax - 1);
        for (int itry = 0; itry < maxSweeps && (activeA | activeB) != 0; ++itry)
        {
            uint changedA = 0, changedB = 0;
            TVec sumlx2A = sumlxA * sumlxA, sumlx2B = sumlxB * sumlxB; // updated with sumlx
            for (int i = 0; i < n; ++i)
            {
                int o = i * c;
                ref float liA = ref Unsafe.Add(ref L, o);
                ref float liB = ref Unsafe.Add(ref L, o + gb);
                TVec LiA = TVec.Load(in liA), LiB = TVec.Load(in liB);
                TVec wxiA = TVec.Load(in Unsafe.Add(ref wxr, o)), wxiB = TVec.Load(in Unsafe.Add(ref wxr, o + gb));
                TVec slxA = sumlxA - wxiA * LiA, slxB = sumlxB - wxiB * LiB;
                uint candidateA = TVec.GreaterThanBits(slxA, zero) & activeA; // a NaN slx fails, as in the scalar test
                uint candidateB = TVec.GreaterThanBits(slxB, zero) & activeB;
                if ((candidateA | candidateB) == 0)
                {
                    continue;
                }

                var a = Q3Trial(TVec.Load(in Unsafe.Add(ref xr, o)), TVec.Load(in Unsafe.Add(ref wr, o)), wxiA, LiA, slxA, suml2A, sumlx2A, candidateA, lo, hi);
                var b = Q3Trial(TVec.Load(in Unsafe.Add(ref xr, o + gb)), TVec.Load(in Unsafe.Add(ref wr, o + gb)), wxiB, LiB, slxB, suml2B, sumlx2B, candidateB, lo, hi);
                if (a.Accept != 0)
                {
                    (sumlxA, suml2A, sumlx2A) = Q3Accept(a.Accept, a.NewL, LiA, ref liA, a.Slx, a.Sl2, sumlxA, suml2A);
                }

                if (b.Accept != 0)
                {
                    (sumlxB, suml2B, sumlx2B) = Q3Accept(b.Accept, b.NewL, LiB, ref liB, b.Slx, b.Sl2, sumlxB, suml2B);
                }

                changedA |= a.Accept;
                changedB |= b.Accept;
            }

            activeA &= changedA;
            activeB &= changedB;
        }

        activeRefA = activeA;
        activeRefB = activeB;
        sumlxRefA = sumlxA;
        suml2RefA = suml2A;
        sumlxRefB = sumlxB;
        suml2RefB = suml2B;
    }

    /// <summary>
    /// One element step of the descent for the <paramref name="candidate"/> lanes (slx = Σ w·x·l without this element
    /// &gt; 0): the new code clamp(nearest_int(x·sl2 / slx)), the sums with it, and the lanes where it differs and the
    /// scalar loop accepts it (sl2 &gt; 0 and slx²·suml2 &gt; sumlx²·sl2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (uint Accept, TVec NewL, TVec Slx, TVec Sl2) Q3Trial<TVec>(TVec xi, TVec wi, TVec wxi, TVec Li, TVec slx, TVec suml2, TVec sumlx2,
                                                                             uint candidate, TVec lo, TVec hi)
        where TVec : struct, ISimdFloat<TVec>
    {
        TVec zero = TVec.Create(0);
        TVec sl2 = suml2 - wi * Li * Li;
        TVec newL = TVec.Max(lo, TVec.Min(hi, TVec.NearestInt(xi * sl2 / slx)));
        slx += wxi * newL;
        sl2 += wi * newL * newL;
        uint accept = candidate & ~TVec.EqualBits(newL, Li) & TVec.GreaterThanBits(sl2, zero)
                      & TVec.GreaterThanBits(slx * slx * suml2, sumlx2 * sl2);
        return (accept, newL, slx, sl2);
    }

    /// <summary>The accepted lanes take their new code and sums; returns Σ w·x·l, Σ w·l² and the square of the first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TVec Sumlx, TVec Suml2, TVec Sumlx2) Q3Accept<TVec>(uint accept, TVec newL, TVec L, ref float li, TVec slx, TVec sl2, TVec sumlx, TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        TVec m = TVec.MaskFromBits(accept);
        TVec.Store(TVec.Select(m, newL, L), ref li);
        TVec s = TVec.Select(m, slx, sumlx);
        return (s, TVec.Select(m, sl2, suml2), s * s);
    }

    /// <summary>The scale make_q3_quants returns: sumlx / suml2, 0 when suml2 is not positive or the lane is all zero.</summary>
    public static TVec Q3Scale<TVec>(TVec allZero, TVec sumlx, TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        TVec zero = TVec.Create(0);
        TVec scale = TVec.Select(TVec.GreaterThan(suml2, zero), sumlx / suml2, zero);
        return TVec.Select(allZero, zero, scale);
    }
}
