using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Steps shared by the IQ2 quantizers (<c>quantize_row_iq2_xxs_impl</c>, <c>quantize_row_iq2_xs_impl</c>,
/// <c>quantize_row_iq2_s_impl</c>), in ggml's float32 order with no fused multiply-add.
/// </summary>
internal static class Iq2Search
{
    /// <summary>
    /// Magnitudes of a group of 8 into <paramref name="xval"/> and its sign bits. The grids of IQ2_XXS and IQ2_XS
    /// store only 7 sign bits (the 8th is the parity), so with an odd count of negatives the value of smallest
    /// w·x² has its sign flipped: its magnitude is stored negated. Returns the 7 stored bits.
    /// </summary>
    public static byte EvenSigns(ReadOnlySpan<float> xb, ReadOnlySpan<float> weight, Span<float> xval)
    {
        int nflip = 0;
        int s = 0;
        for (int i = 0; i < 8; ++i)
        {
            if (xb[i] >= 0)
            {
                xval[i] = xb[i];
            }
            else
            {
                xval[i] = -xb[i];
                ++nflip;
                s |= 1 << i;
            }
        }

        if (nflip % 2 != 0)
        {
            int imin = 0;
            float min = weight[0] * xb[0] * xb[0];
            for (int i = 1; i < 8; ++i)
            {
                float ax = weight[i] * xb[i] * xb[i];
                if (ax < min)
                {
                    min = ax;
                    imin = i;
                }
            }

            xval[imin] = -xval[imin];
            s ^= 1 << imin;
        }

        return (byte)(s & 127);
    }

    /// <summary>
    /// Levels of a group of 8 at inverse scale <paramref name="id"/> (nearest_int(0.5·(id·x − 1)) clamped to 0..2),
    /// moved to the best listed neighbour (at <paramref name="scale"/>) when off the grid. Returns the grid index.
    /// </summary>
    public static int SnapGroup(IqLattice lattice, float id, float scale, ReadOnlySpan<float> xval, ReadOnlySpan<float> waux, Span<sbyte> L) =>
        SnapGroup(lattice, id, scale, xval, waux, L, out _);

    /// <summary>
    /// <see cref="SnapGroup(IqLattice, float, float, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{sbyte})"/>, also
    /// telling in <paramref name="onGrid"/> whether the rounded levels were a grid point (no neighbour search).
    /// </summary>
    public static int SnapGroup(IqLattice lattice, float id, float scale, ReadOnlySpan<float> xval, ReadOnlySpan<float> waux, Span<sbyte> L, out bool onGrid)
    {
        int code = 0;
        for (int i = 0; i < 8; ++i)
        {
            int l = Math.Clamp(Rounding.NearestInt(0.5f * (id * xval[i] - 1)), 0, 2);
            L[i] = (sbyte)l;
            code |= l << (2 * i);
        }

        int gridIndex = lattice.Index(code);
        onGrid = gridIndex >= 0;
        return onGrid ? gridIndex : lattice.FindBestNeighbour(gridIndex, xval, waux, scale, L);
    }

    /// <summary>
    /// The scale search of IQ2_XS and IQ2_S for 16 values (two groups), after the signs: start at max/5, try
    /// id = (5 + 0.1·is)/max for is = −9 … 9 keeping the best levels, then redo the groups that were off the grid at
    /// the best scale and refit it. Returns the scale; the levels are in <paramref name="L"/>.
    /// </summary>
    public static float Search16(IqLattice lattice, float max, ReadOnlySpan<float> xval, ReadOnlySpan<float> weight, ReadOnlySpan<float> waux, Span<sbyte> L)
    {
        Span<sbyte> Laux = stackalloc sbyte[16];
        float best = 0;
        float scale = max / 5;
        bool onGrid0 = true, onGrid1 = true;
        for (int step = -9; step <= 9; ++step)
        {
            float id = (5 + step * 0.1f) / max;
            float thisScale = 1 / id;
            SnapGroup(lattice, id, thisScale, xval[..8], waux[..8], Laux[..8], out bool aux0);
            SnapGroup(lattice, id, thisScale, xval[8..], waux[8..], Laux[8..], out bool aux1);
            (float sumqx, float sumq2) = Moments(weight, xval, Laux);
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                scale = sumqx / sumq2;
                best = scale * sumqx;
                Laux.CopyTo(L);
                onGrid0 = aux0;
                onGrid1 = aux1;
            }
        }

        if ((!onGrid0 || !onGrid1) && scale > 0)
        {
            float id = 1 / scale;
            if (!onGrid0)
            {
                SnapGroup(lattice, id, scale, xval[..8], waux[..8], L[..8]);
            }

            if (!onGrid1)
            {
                SnapGroup(lattice, id, scale, xval[8..], waux[8..], L[8..]);
            }

            (float sumqx, float sumq2) = Moments(weight, xval, L);
            if (sumq2 > 0)
            {
                scale = sumqx / sumq2;
            }
        }

        return scale;
    }

    /// <summary>Σ w·x·q and Σ w·q² with q = 2l + 1, in ggml's order.</summary>
    public static (float SumQx, float SumQ2) Moments(ReadOnlySpan<float> weight, ReadOnlySpan<float> xval, ReadOnlySpan<sbyte> L)
    {
        float sumqx = 0, sumq2 = 0;
        for (int i = 0; i < weight.Length; ++i)
        {
            float w = weight[i];
            float q = 2 * L[i] + 1;
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
        }

        return (sumqx, sumq2);
    }

    /// <summary>
    /// ggml's IQ2 and IQ1 searches weight each value by √(σ² + x²) with σ² = Σx²/256 of the super-block; when Σx²
    /// overflows, every weight is infinite or NaN, the scale NaN, and ggml either aborts (off-grid levels) or writes
    /// codes chosen by NaN comparisons. Such rows are refused instead (docs/formats.md#iq2-lattices).
    /// </summary>
    public static void ThrowIfSquaresOverflow(float sumx2, int superBlock)
    {
        if (float.IsInfinity(sumx2))
        {
            ThrowHelper.ThrowArgument("source", $"The squares of super-block {superBlock} of a row sum past float32's range: ggml's lattice search cannot quantize it (it aborts).");
        }
    }

    /// <summary>The grid index of levels that lie on the grid (ggml aborts otherwise).</summary>
    public static int OnGridIndex(IqLattice lattice, ReadOnlySpan<sbyte> L)
    {
        int code = 0;
        for (int i = 0; i < 8; ++i)
        {
            code |= L[i] << (2 * i);
        }

        int gridIndex = lattice.Index(code);
        if (gridIndex < 0)
        {
            throw new InvalidOperationException($"Lattice point {code} is not on the grid.");
        }

        return gridIndex;
    }
}
