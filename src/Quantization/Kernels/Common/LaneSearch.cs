using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    /// Writes the codes (0 .. 2·nmax − 1) as floats to <paramref name="L"/> and returns the scales;
    /// <paramref name="scratch"/> holds n·Count floats.
    /// </summary>
    public static TVec MakeQxQuants<TVec>(int n, int nmax, ref readonly float x, ref readonly float w, ref float L, ref float scratch)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        // w·x once per element into scratch (n·Count floats): the scalar loop's w[i]*x[i]*l multiplies in that order.
        ref float wx = ref scratch;
        for (int i = 0; i < n; ++i)
        {
            TVec.Store(TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), i * c)) * TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in w), i * c)), ref Unsafe.Add(ref wx, i * c));
        }

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
        Sums(n, nmax, bestIscale, in x, in w, in wx, out TVec sumlx, out TVec suml2);
        TVec scale = TVec.Select(TVec.NotEquals(suml2, TVec.Create(0)), sumlx / suml2, TVec.Create(0));
        TVec best = scale * sumlx;
        for (int step = -9; step <= 9; ++step)
        {
            if (step == 0)
            {
                continue;
            }

            TVec iscale = TVec.Create(-(nmax + 0.1f * step)) / max;
            Sums(n, nmax, iscale, in x, in w, in wx, out sumlx, out suml2);
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
            TVec l = SimdFloat.Clamp(SimdFloat.NearestSmallInt(bestIscale * xi), -nmax, nmax - 1) + TVec.Create(nmax);
            TVec.Store(TVec.Select(allZero, TVec.Create(0), l), ref Unsafe.Add(ref L, i * c));
        }

        return TVec.Select(allZero, TVec.Create(0), scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sums<TVec>(int n, int nmax, TVec iscale, ref readonly float x, ref readonly float w, ref readonly float wx,
                                   out TVec sumlx, out TVec suml2)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        TVec lo = TVec.Create(-nmax), hi = TVec.Create(nmax - 1);
        sumlx = TVec.Create(0);
        suml2 = TVec.Create(0);
        for (int i = 0; i < n; ++i)
        {
            TVec xi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in x), i * c));
            TVec wi = TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in w), i * c));
            TVec l = TVec.Max(lo, TVec.Min(hi, SimdFloat.NearestSmallInt(iscale * xi))); // |iscale·x| ≤ nmax + 0.9
            sumlx += TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in wx), i * c)) * l;
            suml2 += wi * l * l;
        }
    }

    /// <summary>Σ of each lane's <paramref name="n"/> elements, added in index order from 0 as a scalar loop does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec SumElements<TVec>(int n, ref readonly float v)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        TVec sum = TVec.Create(0);
        for (int i = 0; i < n; ++i)
        {
            sum += TVec.Load(in Unsafe.Add(ref Unsafe.AsRef(in v), i * c));
        }

        return sum;
    }
}
