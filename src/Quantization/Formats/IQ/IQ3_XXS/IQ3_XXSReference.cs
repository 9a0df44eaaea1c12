using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ3_XXS: <c>quantize_row_iq3_xxs_impl</c> (grid 256; <c>quantize_row_iq3_xxs_ref</c> is the
/// same without importance) and <c>dequantize_row_iq3_xxs</c>.
/// </summary>
internal static class IQ3_XXSReference
{
    public const int SuperBlockSize = 256;

    /// <summary>A sub-block whose largest magnitude is below this is all zero (<c>GROUP_MAX_EPS_IQ3_XXS</c>).</summary>
    private const float GroupMaxEps = 1e-8f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Iq3Grid grid = Iq3Grid.Xxs;
        Span<BlockIQ3_XXS> y = MemoryMarshal.Cast<byte, BlockIQ3_XXS>(destination);
        Span<float> scales = stackalloc float[8];
        Span<float> weight = stackalloc float[32];
        Span<float> xval = stackalloc float[32];
        Span<float> waux = stackalloc float[32];
        Span<sbyte> L = stackalloc sbyte[32];
        Span<byte> blockSigns = stackalloc byte[4];

        // The block's bytes after d, written only when some sub-block has a scale.
        Span<byte> q3 = stackalloc byte[BlockIQ3_XXS.Size - 2];
        Span<uint> scalesAndSigns = MemoryMarshal.Cast<byte, uint>(q3[64..]);
        for (int ibl = 0; ibl < y.Length; ++ibl)
        {
            y[ibl].D = 0;
            q3.Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            float sigma2 = 2 * sumx2 / SuperBlockSize;
            for (int ib = 0; ib < 8; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(32 * ib, 32);
                IqWeights.Fill(xb, importance.IsEmpty ? default : importance.Slice(SuperBlockSize * ibl + 32 * ib, 32), sigma2, weight[..32], waux[..32]);

                // Only 7 sign bits are stored per 8 values (the eighth is their parity): with an odd count of negative
                // values, the one of least weight·x² is taken positive instead.
                for (int k = 0; k < 4; ++k)
                {
                    int nflip = 0;
                    int s = 0;
                    for (int i = 0; i < 8; ++i)
                    {
                        if (xb[8 * k + i] >= 0)
                        {
                            xval[8 * k + i] = xb[8 * k + i];
                        }
                        else
                        {
                            xval[8 * k + i] = -xb[8 * k + i];
                            ++nflip;
                            s |= 1 << i;
                        }
                    }

                    if (nflip % 2 != 0)
                    {
                        int imin = 0;
                        float min = weight[8 * k] * xb[8 * k] * xb[8 * k];
                        for (int i = 1; i < 8; ++i)
                        {
                            float ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
                            if (ax < min)
                            {
                                min = ax;
                                imin = i;
                            }
                        }

                        xval[8 * k + imin] = -xval[8 * k + imin];
                        s ^= 1 << imin;
                    }

                    blockSigns[k] = (byte)(s & 127);
                }

                float max = xval[0];
                for (int i = 1; i < 32; ++i)
                {
                    max = max > xval[i] ? max : xval[i];
                }

                L.Clear();
                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    continue;
                }

                float scale = Iq3Search.SearchScale(grid, xval, weight, waux, max, steps: 15, assumeOnGrid: true, resnapOnGrid: false, L);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < 4; ++k)
                    {
                        blockSigns[k] = (byte)(~blockSigns[k] & 127);
                    }
                }

                for (int k = 0; k < 8; ++k)
                {
                    q3[8 * ib + k] = (byte)Iq3Search.OnGridIndex(grid, L.Slice(4 * k, 4));
                }

                scalesAndSigns[ib] = blockSigns[0] | ((uint)blockSigns[1] << 7) | ((uint)blockSigns[2] << 14) | ((uint)blockSigns[3] << 21);
                Iq3Search.CheckScale(scale);
                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            if (maxScale == 0)
            {
                MemoryMarshal.AsBytes(y.Slice(ibl, 1))[2..].Clear();
                continue;
            }

            float d = maxScale / 31;
            y[ibl].D = Fp16.FromSingle(d * 1.0125f);
            float id = 1 / d;
            for (int ib = 0; ib < 8; ++ib)
            {
                int l = Rounding.NearestInt(0.5f * (id * scales[ib] - 1));
                l = Math.Max(0, Math.Min(15, l));
                scalesAndSigns[ib] |= (uint)l << 28;
            }

            q3.CopyTo(MemoryMarshal.AsBytes(y.Slice(ibl, 1))[2..]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ3_XXS> x = MemoryMarshal.Cast<byte, BlockIQ3_XXS>(source);
        ReadOnlySpan<byte> signTable = IqSigns.Signs;
        ReadOnlySpan<byte> mask = IqSigns.Mask;
        uint[] grid = Iq3Grids.XxsValues;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                uint aux32 = x[i].Aux(ib);
                float db = d * (0.5f + (aux32 >> 28)) * 0.5f;
                for (int l = 0; l < 4; ++l)
                {
                    byte signs = signTable[(int)((aux32 >> (7 * l)) & 127)];
                    uint grid1 = grid[x[i].Qs[8 * ib + 2 * l]];
                    uint grid2 = grid[x[i].Qs[8 * ib + 2 * l + 1]];
                    for (int j = 0; j < 4; ++j)
                    {
                        y[o + j] = db * (byte)(grid1 >> (8 * j)) * ((signs & mask[j]) != 0 ? -1f : 1f);
                        y[o + j + 4] = db * (byte)(grid2 >> (8 * j)) * ((signs & mask[j + 4]) != 0 ? -1f : 1f);
                    }

                    o += 8;
                }
            }
        }
    }
}
