using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ1_M: <c>quantize_row_iq1_m_impl</c> (with or without importance) and
/// <c>dequantize_row_iq1_m</c>, in ggml's float32 order (docs/formats.md#iq1_m).
/// </summary>
internal static class IQ1_MReference
{
    public const int SuperBlockSize = 256;

    private const int BlockSize = 16;

    private const float GroupMaxEps = 1e-7f;

    internal const float Delta = 0.125f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        IqLattice lattice = IqLattice.Iq1S;
        ReadOnlySpan<float> xPlus = [-1 + Delta, Delta, 1 + Delta];
        ReadOnlySpan<float> xMinus = [-1 - Delta, -Delta, 1 - Delta];
        Span<BlockIQ1_M> y = MemoryMarshal.Cast<byte, BlockIQ1_M>(destination);
        Span<float> scales = stackalloc float[SuperBlockSize / BlockSize];
        Span<int> shifts = stackalloc int[SuperBlockSize / BlockSize];
        Span<float> weight = stackalloc float[BlockSize];
        Span<int> order = stackalloc int[BlockSize];
        Span<sbyte> L = stackalloc sbyte[BlockSize];
        Span<int> index = stackalloc int[2];
        Span<float> sumqx = stackalloc float[4];
        Span<float> sumq2 = stackalloc float[4];
        Span<ushort> sc = stackalloc ushort[4];

        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            MemoryMarshal.AsBytes(y.Slice(ibl, 1)).Clear();
            sc.Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            Iq2Search.ThrowIfSquaresOverflow(2 * sumx2, ibl);
            float sigma2 = 2 * sumx2 / SuperBlockSize;

            for (int ib = 0; ib < SuperBlockSize / BlockSize; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(BlockSize * ib, BlockSize);
                Weights(xb, importance.IsEmpty ? default : importance.Slice(SuperBlockSize * ibl + BlockSize * ib, BlockSize), sigma2, weight);
                float max = MathF.Abs(xb[0]);
                for (int i = 1; i < BlockSize; ++i)
                {
                    float a = MathF.Abs(xb[i]);
                    max = max > a ? max : a;
                }

                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    shifts[ib] = 0;
                    continue;
                }

                IQ1_SReference.SortedOrder(xb, order);
                float bestScore = -float.MaxValue, scale = max;
                int besti1 = -1, besti2 = -1, bestK = -1;

                // k: shifts of the two groups of 8 — 0: (+, +), 1: (+, −), 2: (−, +), 3: (−, −).
                for (int i1 = 0; i1 <= BlockSize; ++i1)
                {
                    for (int i2 = i1; i2 <= BlockSize; ++i2)
                    {
                        sumqx.Clear();
                        sumq2.Clear();
                        for (int j = 0; j < BlockSize; ++j)
                        {
                            int level = j < i1 ? 0 : j < i2 ? 1 : 2;
                            int i = order[j];
                            for (int k = 0; k < 4; ++k)
                            {
                                bool plus = i < BlockSize / 2 ? k < 2 : k % 2 == 0;
                                float q = plus ? xPlus[level] : xMinus[level];
                                sumqx[k] += weight[i] * q * xb[i];
                                sumq2[k] += weight[i] * q * q;
                            }
                        }

                        for (int k = 0; k < 4; ++k)
                        {
                            if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > bestScore * sumq2[k])
                            {
                                scale = sumqx[k] / sumq2[k];
                                bestScore = scale * sumqx[k];
                                besti1 = i1;
                                besti2 = i2;
                                bestK = k;
                            }
                        }
                    }
                }

                if (besti1 < 0 || besti2 < 0 || bestK < 0)
                {
                    scales[ib] = 0;
                    shifts[ib] = 0;
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
                    bestK = 3 - bestK;
                }

                bool allOnGrid = true;
                for (int k = 0; k < 2; ++k)
                {
                    ReadOnlySpan<float> xx = Levels(bestK, k, xPlus, xMinus);
                    int code = 0;
                    for (int j = 0; j < 8; ++j)
                    {
                        code |= L[8 * k + j] << (2 * j);
                    }

                    int gridIndex = lattice.Index(code);
                    if (gridIndex < 0)
                    {
                        allOnGrid = false;
                        gridIndex = IQ1_SReference.FindBestNeighbour(lattice, gridIndex, xb.Slice(8 * k, 8), weight.Slice(8 * k, 8), scale, xx);
                    }

                    index[k] = gridIndex;
                }

                if (!allOnGrid)
                {
                    float sumqxF = 0, sumq2F = 0;
                    for (int k = 0; k < 2; ++k)
                    {
                        ReadOnlySpan<float> xx = Levels(bestK, k, xPlus, xMinus);
                        for (int j = 0; j < 8; ++j)
                        {
                            float w = weight[8 * k + j];
                            float q = xx[lattice.Level(index[k], j)];
                            sumqxF += w * q * xb[8 * k + j];
                            sumq2F += w * q * q;
                        }
                    }

                    if (sumqxF > 0 && sumq2F > 0)
                    {
                        scale = sumqxF / sumq2F;
                    }
                }

                y[ibl].Qs[2 * ib] = (byte)index[0];
                y[ibl].Qs[2 * ib + 1] = (byte)index[1];
                y[ibl].Qh[ib] = (byte)((index[0] >> 8) | ((index[1] >> 8) << 4));
                scales[ib] = scale;
                shifts[ib] = bestK;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            if (maxScale == 0)
            {
                continue;
            }

            ReadOnlySpan<byte> masks = [0x00, 0x80, 0x08, 0x88];
            float d = maxScale / 15;
            float id = 1 / d;
            float sumqxD = 0, sumq2D = 0;
            for (int ib = 0; ib < SuperBlockSize / BlockSize; ++ib)
            {
                int l = Math.Clamp(Rounding.NearestInt(0.5f * (id * scales[ib] - 1)), 0, 7);
                sc[ib / 4] |= (ushort)(l << (3 * (ib % 4)));
                y[ibl].Qh[ib] |= masks[shifts[ib]];
                ReadOnlySpan<float> xb = xbl.Slice(BlockSize * ib, BlockSize);
                Weights(xb, importance.IsEmpty ? default : importance.Slice(SuperBlockSize * ibl + BlockSize * ib, BlockSize), sigma2, weight);
                for (int k = 0; k < 2; ++k)
                {
                    ReadOnlySpan<float> xx = Levels(shifts[ib], k, xPlus, xMinus);
                    int gridIndex = y[ibl].GridIndex(2 * ib + k);
                    for (int j = 0; j < 8; ++j)
                    {
                        float w = weight[8 * k + j];
                        float q = xx[lattice.Level(gridIndex, j)] * (2 * l + 1);
                        sumqxD += w * q * xb[8 * k + j];
                        sumq2D += w * q * q;
                    }
                }
            }

            if (sumq2D > 0)
            {
                d = sumqxD / sumq2D;
            }

            ushort s = Fp16.FromSingle(d * 1.1125f);
            sc[0] |= (ushort)((s & 0x000F) << 12);
            sc[1] |= (ushort)((s & 0x00F0) << 8);
            sc[2] |= (ushort)((s & 0x0F00) << 4);
            sc[3] |= (ushort)(s & 0xF000);
            MemoryMarshal.AsBytes(sc).CopyTo(y[ibl].Scales);
        }
    }

    /// <summary>The level values of group <paramref name="k"/> (0 or 1) under shift pattern <paramref name="shift"/>.</summary>
    private static ReadOnlySpan<float> Levels(int shift, int k, ReadOnlySpan<float> xPlus, ReadOnlySpan<float> xMinus) =>
        (k == 0 ? shift < 2 : shift % 2 == 0) ? xPlus : xMinus;

    /// <summary>qw·sqrt(σ² + x²) with importance, x² without (σ² unused then).</summary>
    private static void Weights(ReadOnlySpan<float> xb, ReadOnlySpan<float> qw, float sigma2, Span<float> weight)
    {
        for (int i = 0; i < BlockSize; ++i)
        {
            weight[i] = qw.IsEmpty ? xb[i] * xb[i] : qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ1_M> x = MemoryMarshal.Cast<byte, BlockIQ1_M>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 16; ++ib)
            {
                float dl = d * (2 * x[i].BlockScale(ib) + 1);
                for (int k = 0; k < 2; ++k)
                {
                    int g = 2 * ib + k;
                    float delta = x[i].NegativeShift(g) ? -Delta : Delta;
                    ulong point = grid[x[i].GridIndex(g)];
                    for (int j = 0; j < 8; ++j)
                    {
                        y[o++] = dl * ((sbyte)(point >> (8 * j)) + delta);
                    }
                }
            }
        }
    }
}
