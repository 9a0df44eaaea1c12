using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The scale search shared by IQ3_XXS and IQ3_S (the common part of ggml's <c>quantize_row_iq3_xxs_impl</c> and
/// <c>quantize_row_iq3_s_impl</c>, docs/formats.md#iq3-search): for one 32-value sub-block of magnitudes, try scales
/// around max/15, snap each quadruple of codes to the grid (or to its best neighbour), keep the best weighted fit, then
/// re-snap at that scale. float32 in ggml's order, no fused multiply-add.
/// </summary>
internal static class Iq3Search
{
    /// <summary>Largest 3-bit code.</summary>
    private const int MaxCode = 7;

    /// <summary>
    /// Searches the scale of one sub-block and leaves its codes l (0..7, value 2l + 1) in <paramref name="L"/>.
    /// <paramref name="steps"/>: the trial scales are (15 + 0.2·s)/max for s in −steps..steps. Where no trial wins,
    /// <paramref name="assumeOnGrid"/> says whether the codes (all 0) count as on the grid; <paramref name="resnapOnGrid"/>
    /// whether the final re-snap also revisits the quadruples that were on the grid.
    /// </summary>
    public static float SearchScale(Iq3Grid grid, ReadOnlySpan<float> xval, ReadOnlySpan<float> weight, ReadOnlySpan<float> waux, float max,
                                    int steps, bool assumeOnGrid, bool resnapOnGrid, Span<sbyte> L)
    {
        Span<sbyte> Laux = stackalloc sbyte[32];
        Span<bool> onGrid = stackalloc bool[8];
        Span<bool> onGridAux = stackalloc bool[8];
        int[] map = grid.Map;
        float best = 0;
        float scale = max / (2 * MaxCode + 1);
        onGrid.Fill(assumeOnGrid);
        for (int step = -steps; step <= steps; ++step)
        {
            float id = (2 * MaxCode + 1 + step * 0.2f) / max;
            float trialScale = 1 / id;
            for (int k = 0; k < 8; ++k)
            {
                int u = 0;
                for (int i = 0; i < 4; ++i)
                {
                    int l = Rounding.NearestInt(0.5f * (id * xval[4 * k + i] - 1));
                    Laux[4 * k + i] = (sbyte)Math.Max(0, Math.Min(MaxCode, l));
                    u |= Laux[4 * k + i] << (3 * i);
                }

                onGridAux[k] = map[u] >= 0;
                if (map[u] < 0)
                {
                    BestNeighbour(grid, -map[u] - 1, xval.Slice(4 * k, 4), waux.Slice(4 * k, 4), trialScale, Laux.Slice(4 * k, 4));
                }
            }

            float sumqx = 0, sumq2 = 0;
            for (int i = 0; i < 32; ++i)
            {
                float w = weight[i];
                float q = 2 * Laux[i] + 1;
                sumqx += w * xval[i] * q;
                sumq2 += w * q * q;
            }

            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                scale = sumqx / sumq2;
                best = scale * sumqx;
                Laux.CopyTo(L);
                onGridAux.CopyTo(onGrid);
            }
        }

        if (onGrid.Contains(false) && scale > 0)
        {
            float id = 1 / scale;
            for (int k = 0; k < 8; ++k)
            {
                if (!resnapOnGrid && onGrid[k])
                {
                    continue;
                }

                int u = 0;
                for (int i = 0; i < 4; ++i)
                {
                    int l = Rounding.NearestInt(0.5f * (id * xval[4 * k + i] - 1));
                    u |= Math.Max(0, Math.Min(MaxCode, l)) << (3 * i);
                }

                int gridIndex = map[u] >= 0 ? map[u] : BestNeighbour(grid, -map[u] - 1, xval.Slice(4 * k, 4), waux.Slice(4 * k, 4), scale, L.Slice(4 * k, 4));
                uint point = grid.Points[gridIndex];
                for (int i = 0; i < 4; ++i)
                {
                    L[4 * k + i] = (sbyte)((((point >> (8 * i)) & 0xFF) - 1) / 2);
                }
            }

            float sumqx = 0, sumq2 = 0;
            for (int i = 0; i < 32; ++i)
            {
                float w = weight[i];
                float q = 2 * L[i] + 1;
                sumqx += w * xval[i] * q;
                sumq2 += w * q * q;
            }

            if (sumq2 > 0)
            {
                scale = sumqx / sumq2;
            }
        }

        return scale;
    }

    /// <summary>
    /// ggml's <c>iq3_find_best_neighbour</c>: the neighbour (list at <paramref name="offset"/>) with the smallest
    /// Σ w·(scale·q − x)², first one on ties; writes its codes to <paramref name="L"/> and returns its index.
    /// </summary>
    public static int BestNeighbour(Iq3Grid grid, int offset, ReadOnlySpan<float> xval, ReadOnlySpan<float> weight, float scale, Span<sbyte> L)
    {
        ReadOnlySpan<ushort> neighbours = grid.Neighbours.AsSpan(offset + 1, grid.Neighbours[offset]);
        float bestD2 = float.MaxValue;
        int gridIndex = -1;
        foreach (ushort candidate in neighbours)
        {
            uint point = grid.Points[candidate];
            float d2 = 0;
            for (int i = 0; i < 4; ++i)
            {
                float q = (point >> (8 * i)) & 0xFF;
                float diff = scale * q - xval[i];
                d2 += weight[i] * diff * diff;
            }

            if (d2 < bestD2)
            {
                bestD2 = d2;
                gridIndex = candidate;
            }
        }

        if (gridIndex < 0)
        {
            // ggml asserts here (every candidate's distance NaN or above FLT_MAX): values too large for the format.
            ThrowNoNeighbour();
        }

        uint best = grid.Points[gridIndex];
        for (int i = 0; i < 4; ++i)
        {
            L[i] = (sbyte)((((best >> (8 * i)) & 0xFF) - 1) / 2);
        }

        return gridIndex;
    }

    /// <summary>The grid index of four codes the search left on the grid.</summary>
    internal static int OnGridIndex(Iq3Grid grid, ReadOnlySpan<sbyte> L)
    {
        int u = (byte)L[0] | ((byte)L[1] << 3) | ((byte)L[2] << 6) | ((byte)L[3] << 9);
        int index = grid.Map[u];
        if (index < 0)
        {
            // ggml aborts here ("found point not on grid"); the search never leaves such codes.
            throw new InvalidOperationException($"IQ3 codes {u} are not on the grid.");
        }

        return index;
    }

    /// <summary>ggml asserts scale ≥ 0 (it fails for NaN, which only values near the float range produce).</summary>
    internal static void CheckScale(float scale)
    {
        if (!(scale >= 0))
        {
            ThrowHelper.ThrowArgument("x", "IQ3 quantization produced no valid scale: the values are too large for the format.");
        }
    }

    private static void ThrowNoNeighbour() =>
        ThrowHelper.ThrowArgument("x", "IQ3 quantization found no grid point at a finite distance: the values are too large for the format.");
}
