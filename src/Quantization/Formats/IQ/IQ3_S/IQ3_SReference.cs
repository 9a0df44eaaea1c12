using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ3_S: <c>quantize_row_iq3_s_impl</c> with sub-blocks of 32 (<c>quantize_iq3_s</c>;
/// <c>quantize_row_iq3_s_ref</c> is the same without importance) and <c>dequantize_row_iq3_s</c>.
/// </summary>
internal static class IQ3_SReference
{
    public const int SuperBlockSize = 256;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Iq3Grid grid = Iq3Grid.S;
        Span<BlockIQ3_S> y = MemoryMarshal.Cast<byte, BlockIQ3_S>(destination);
        Span<float> scales = stackalloc float[8];
        Span<float> weight = stackalloc float[32];
        Span<float> xval = stackalloc float[32];
        Span<float> waux = stackalloc float[32];
        Span<sbyte> L = stackalloc sbyte[32];
        Span<byte> blockSigns = stackalloc byte[4];
        for (int ibl = 0; ibl < y.Length; ++ibl)
        {
            ref BlockIQ3_S b = ref y[ibl];
            MemoryMarshal.AsBytes(y.Slice(ibl, 1)).Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            float sigma2 = 2 * sumx2 / SuperBlockSize;

            // ggml advances its write positions in qs and signs only past sub-blocks it encodes: an all-zero sub-block
            // writes nothing and the next encoded one takes its place (the grid-index high bits in qh stay in place).
            int written = 0;
            for (int ib = 0; ib < 8; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(32 * ib, 32);
                IqWeights.Fill(xb, importance.IsEmpty ? default : importance.Slice(SuperBlockSize * ibl + 32 * ib, 32), sigma2, weight[..32], waux[..32]);

                // All eight sign bits are stored: no parity fix-up.
                for (int k = 0; k < 4; ++k)
                {
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
                            s |= 1 << i;
                        }
                    }

                    blockSigns[k] = (byte)s;
                }

                float max = xval[0];
                for (int i = 1; i < 32; ++i)
                {
                    max = max > xval[i] ? max : xval[i];
                }

                L.Clear();
                if (max == 0)
                {
                    scales[ib] = 0;
                    continue;
                }

                float scale = Iq3Search.SearchScale(grid, xval, weight, waux, max, steps: 9, assumeOnGrid: false, resnapOnGrid: true, L);
                if (scale < 0)
                {
                    scale = -scale;
                    for (int k = 0; k < 4; ++k)
                    {
                        blockSigns[k] = (byte)~blockSigns[k];
                    }
                }

                for (int k = 0; k < 8; ++k)
                {
                    int gridIndex = Iq3Search.OnGridIndex(grid, L.Slice(4 * k, 4));
                    b.Qs[8 * written + k] = (byte)gridIndex;
                    b.Qh[ib] |= (byte)((gridIndex >> 8) << k);
                }

                blockSigns.CopyTo(b.Signs[(4 * written)..]);
                ++written;
                Iq3Search.CheckScale(scale);
                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            if (maxScale == 0)
            {
                continue;
            }

            float d = maxScale / 31;
            b.D = Fp16.FromSingle(d * 1.033f);
            float id = 1 / d;
            for (int ib = 0; ib < 8; ib += 2)
            {
                int l1 = Math.Max(0, Math.Min(15, Rounding.NearestInt(0.5f * (id * scales[ib] - 1))));
                int l2 = Math.Max(0, Math.Min(15, Rounding.NearestInt(0.5f * (id * scales[ib + 1] - 1))));
                b.Scales[ib / 2] = (byte)(l1 | (l2 << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ3_S> x = MemoryMarshal.Cast<byte, BlockIQ3_S>(source);
        ReadOnlySpan<byte> mask = IqSigns.Mask;
        uint[] grid = Iq3Grids.SValues;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                float db = d * (1 + 2 * x[i].Scale(ib));
                for (int l = 0; l < 4; ++l)
                {
                    byte signs = x[i].Signs[4 * ib + l];
                    uint grid1 = grid[x[i].GridIndex(ib, 2 * l)];
                    uint grid2 = grid[x[i].GridIndex(ib, 2 * l + 1)];
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
