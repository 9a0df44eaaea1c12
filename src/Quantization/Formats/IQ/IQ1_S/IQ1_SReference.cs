using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ1_S: <c>quantize_row_iq1_s_impl</c> (importance required) and <c>dequantize_row_iq1_s</c>,
/// in ggml's float32 order (docs/formats.md#iq1_s).
/// </summary>
internal static class IQ1_SReference
{
    public const int SuperBlockSize = 256;

    private const int BlockSize = 32;

    private const float GroupMaxEps = 1e-12f;

    /// <summary>IQ1S_DELTA: the shift of every value of a sub-block.</summary>
    public const float Delta = 0.125f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (importance.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(importance), "IQ1_S needs importance weights (an imatrix), as in ggml.");
        }

        IqLattice lattice = IqLattice.Iq1S;
        ReadOnlySpan<float> xPlus = [-1 + Delta, Delta, 1 + Delta];
        ReadOnlySpan<float> xMinus = [-1 - Delta, -Delta, 1 - Delta];
        Span<BlockIQ1_S> y = MemoryMarshal.Cast<byte, BlockIQ1_S>(destination);
        Span<float> scales = stackalloc float[SuperBlockSize / BlockSize];
        Span<int> shifts = stackalloc int[SuperBlockSize / BlockSize];
        Span<float> weight = stackalloc float[BlockSize];
        Span<float> sumx = stackalloc float[BlockSize + 1];
        Span<float> sumw = stackalloc float[BlockSize + 1];
        Span<int> order = stackalloc int[BlockSize];
        Span<sbyte> L = stackalloc sbyte[BlockSize];
        Span<int> index = stackalloc int[BlockSize / 8];

        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            MemoryMarshal.AsBytes(y.Slice(ibl, 1)).Clear();
            Span<byte> qh = y[ibl].QhBytes;
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            Iq2Search.ThrowIfSquaresOverflow(2 * sumx2, ibl);
            float sigma2 = 2 * sumx2 / SuperBlockSize;

            for (int ib = 0; ib < SuperBlockSize / BlockSize; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(BlockSize * ib, BlockSize);
                ReadOnlySpan<float> qw = importance.Slice(SuperBlockSize * ibl + BlockSize * ib, BlockSize);
                for (int i = 0; i < BlockSize; ++i)
                {
                    weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
                }

                float max = MathF.Abs(xb[0]);
                for (int i = 1; i < BlockSize; ++i)
                {
                    float a = MathF.Abs(xb[i]);
                    max = max > a ? max : a;
                }

                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    shifts[ib] = 1;
                    continue;
                }

                // ggml sorts (x, index) pairs by x with the C library's qsort; glibc's is a stable merge sort.
                SortedOrder(xb, order);
                sumx[0] = sumw[0] = 0;
                for (int j = 0; j < BlockSize; ++j)
                {
                    int i = order[j];
                    sumx[j + 1] = sumx[j] + weight[i] * xb[i];
                    sumw[j + 1] = sumw[j] + weight[i];
                }

                // Every split of the sorted values into levels −1, 0, +1, with either shift.
                float bestScore = -float.MaxValue, scale = max;
                int besti1 = -1, besti2 = -1, bestShift = 0;
                for (int i1 = 0; i1 <= BlockSize; ++i1)
                {
                    for (int i2 = i1; i2 <= BlockSize; ++i2)
                    {
                        float sumqx = (sumx[i1] - sumx[0]) * xPlus[0] + (sumx[i2] - sumx[i1]) * xPlus[1] + (sumx[BlockSize] - sumx[i2]) * xPlus[2];
                        float sumq2 = (sumw[i1] - sumw[0]) * xPlus[0] * xPlus[0] + (sumw[i2] - sumw[i1]) * xPlus[1] * xPlus[1] + (sumw[BlockSize] - sumw[i2]) * xPlus[2] * xPlus[2];
                        if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2)
                        {
                            scale = sumqx / sumq2;
                            bestScore = scale * sumqx;
                            besti1 = i1;
                            besti2 = i2;
                            bestShift = 1;
                        }

                        sumqx = (sumx[i1] - sumx[0]) * xMinus[0] + (sumx[i2] - sumx[i1]) * xMinus[1] + (sumx[BlockSize] - sumx[i2]) * xMinus[2];
                        sumq2 = (sumw[i1] - sumw[0]) * xMinus[0] * xMinus[0] + (sumw[i2] - sumw[i1]) * xMinus[1] * xMinus[1] + (sumw[BlockSize] - sumw[i2]) * xMinus[2] * xMinus[2];
                        if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2)
                        {
                            scale = sumqx / sumq2;
                            bestScore = scale * sumqx;
                            besti1 = i1;
                            besti2 = i2;
                            bestShift = -1;
                        }
                    }
                }

                if (besti1 < 0 || besti2 < 0 || bestShift == 0)
                {
                    scales[ib] = 0;
                    shifts[ib] = 1;
                    continue;
                }

                for (int j = 0; j < BlockSize; ++j)
                {
                    L[order[j]] = (sbyte)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
                }

                if (scale < 0)
                {
                    for (int j = 0; j < BlockSize; ++j)
                    {
                        L[j] = (sbyte)(2 - L[j]);
                    }

                    scale = -scale;
                    bestShift = -bestShift;
                }

                bool allOnGrid = true;
                ReadOnlySpan<float> xx = bestShift == 1 ? xPlus : xMinus;
                for (int k = 0; k < BlockSize / 8; ++k)
                {
                    int code = 0;
                    for (int j = 0; j < 8; ++j)
                    {
                        code |= L[8 * k + j] << (2 * j);
                    }

                    int gridIndex = lattice.Index(code);
                    if (gridIndex < 0)
                    {
                        allOnGrid = false;
                        gridIndex = FindBestNeighbour(lattice, gridIndex, xb.Slice(8 * k, 8), weight.Slice(8 * k, 8), scale, xx);
                    }

                    index[k] = gridIndex;
                }

                if (!allOnGrid)
                {
                    float sumqx = 0, sumq2 = 0;
                    for (int k = 0; k < BlockSize / 8; ++k)
                    {
                        for (int j = 0; j < 8; ++j)
                        {
                            float w = weight[8 * k + j];
                            float q = xx[lattice.Level(index[k], j)];
                            sumqx += w * q * xb[8 * k + j];
                            sumq2 += w * q * q;
                        }
                    }

                    if (sumqx > 0 && sumq2 > 0)
                    {
                        scale = sumqx / sumq2;
                    }
                }

                int h = 0;
                for (int k = 0; k < BlockSize / 8; ++k)
                {
                    y[ibl].Qs[4 * ib + k] = (byte)index[k];
                    h |= (index[k] >> 8) << (3 * k);
                }

                qh[2 * ib] = (byte)h;
                qh[2 * ib + 1] = (byte)(h >> 8);
                scales[ib] = scale;
                shifts[ib] = bestShift;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            if (maxScale == 0)
            {
                continue;
            }

            float d = maxScale / 15;
            y[ibl].D = Fp16.FromSingle(d * 1.125f);
            float id = 1 / d;
            for (int ib = 0; ib < SuperBlockSize / BlockSize; ++ib)
            {
                int l = Math.Clamp(Rounding.NearestInt(0.5f * (id * scales[ib] - 1)), 0, 7);
                if (shifts[ib] == -1)
                {
                    l |= 8;
                }

                qh[2 * ib + 1] |= (byte)(l << 4);
            }
        }
    }

    /// <summary>Indices of <paramref name="x"/> by ascending value, equal values in index order (a stable sort).</summary>
    internal static void SortedOrder(ReadOnlySpan<float> x, Span<int> order)
    {
        for (int j = 0; j < order.Length; ++j)
        {
            int k = j;
            while (k > 0 && x[order[k - 1]] > x[j])
            {
                order[k] = order[k - 1];
                --k;
            }

            order[k] = j;
        }
    }

    /// <summary>
    /// ggml's <c>iq1_find_best_neighbour2</c>: the listed neighbour with the smallest Σ w·(scale·xx[level] − x)².
    /// When every distance is infinite ggml falls back to a full scan that reads past its 8 values; the library
    /// refuses such a row (only reachable with |x| beyond about 1e12).
    /// </summary>
    internal static int FindBestNeighbour(IqLattice lattice, int mapEntry, ReadOnlySpan<float> xval, ReadOnlySpan<float> weight, float scale, ReadOnlySpan<float> xx)
    {
        float bestScore = float.MaxValue;
        int gridIndex = -1;
        foreach (int k in lattice.Neighbours(mapEntry))
        {
            float d2 = 0;
            for (int i = 0; i < 8; ++i)
            {
                float q = xx[lattice.Level(k, i)];
                float w = weight[i];
                float diff = scale * q - xval[i];
                d2 += w * diff * diff;
            }

            if (d2 < bestScore)
            {
                bestScore = d2;
                gridIndex = k;
            }
        }

        if (gridIndex < 0)
        {
            ThrowHelper.ThrowArgument("source", "Values too large for IQ1_S and IQ1_M: every lattice distance overflows float32 (ggml's fallback reads out of bounds).");
        }

        return gridIndex;
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ1_S> x = MemoryMarshal.Cast<byte, BlockIQ1_S>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                int qh = x[i].Qh(ib);
                float dl = d * (2 * ((qh >> 12) & 7) + 1);
                float delta = (qh & 0x8000) != 0 ? -Delta : Delta;
                for (int l = 0; l < 4; ++l)
                {
                    ulong point = grid[x[i].GridIndex(4 * ib + l)];
                    for (int j = 0; j < 8; ++j)
                    {
                        y[o++] = dl * ((sbyte)(point >> (8 * j)) + delta);
                    }
                }
            }
        }
    }
}
