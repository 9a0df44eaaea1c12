using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ2_S: <c>quantize_row_iq2_s_impl</c> (with or without importance) and
/// <c>dequantize_row_iq2_s</c>, in ggml's float32 order (docs/formats.md#iq2_s).
/// </summary>
internal static class IQ2_SReference
{
    public const int SuperBlockSize = 256;

    private const float GroupMaxEps = 1e-8f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        IqLattice lattice = IqLattice.Iq2S;
        Span<BlockIQ2_S> y = MemoryMarshal.Cast<byte, BlockIQ2_S>(destination);
        Span<float> scales = stackalloc float[16];
        Span<float> weight = stackalloc float[16];
        Span<float> xval = stackalloc float[16];
        Span<float> waux = stackalloc float[16];
        Span<sbyte> L = stackalloc sbyte[16];

        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            MemoryMarshal.AsBytes(y.Slice(ibl, 1)).Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            Iq2Search.ThrowIfSquaresOverflow(2 * sumx2, ibl);
            float sigma2 = 2 * sumx2 / SuperBlockSize;

            for (int ib = 0; ib < 16; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(16 * ib, 16);
                if (!importance.IsEmpty)
                {
                    ReadOnlySpan<float> qw = importance.Slice(SuperBlockSize * ibl + 16 * ib, 16);
                    for (int i = 0; i < 16; ++i)
                    {
                        weight[i] = qw[i] * MathF.Sqrt(sigma2 + xb[i] * xb[i]);
                    }
                }
                else
                {
                    for (int i = 0; i < 16; ++i)
                    {
                        weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
                    }
                }

                for (int i = 0; i < 16; ++i)
                {
                    waux[i] = MathF.Sqrt(weight[i]);
                }

                // All eight signs are stored: no parity rule.
                int signs0 = 0, signs1 = 0;
                for (int i = 0; i < 8; ++i)
                {
                    xval[i] = Magnitude(xb[i], i, ref signs0);
                    xval[8 + i] = Magnitude(xb[8 + i], i, ref signs1);
                }

                float max = xval[0];
                for (int i = 1; i < 16; ++i)
                {
                    max = max > xval[i] ? max : xval[i];
                }

                L.Clear();
                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    continue;
                }

                float scale = Iq2Search.Search16(lattice, max, xval, weight, waux, L);
                if (scale < 0)
                {
                    scale = -scale;
                    signs0 = ~signs0;
                    signs1 = ~signs1;
                }

                Store(ref y[ibl], 2 * ib, Iq2Search.OnGridIndex(lattice, L[..8]), (byte)signs0);
                Store(ref y[ibl], 2 * ib + 1, Iq2Search.OnGridIndex(lattice, L[8..]), (byte)signs1);
                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            if (maxScale == 0)
            {
                continue;
            }

            float d = maxScale / 31;
            y[ibl].D = Fp16.FromSingle(d * 0.9875f);
            float id = 1 / d;
            for (int ib = 0; ib < 16; ++ib)
            {
                int l = Math.Clamp(Rounding.NearestInt(0.5f * (id * scales[ib] - 1)), 0, 15);
                y[ibl].Scales[ib / 2] |= (byte)(l << (4 * (ib % 2)));
            }
        }
    }

    private static float Magnitude(float x, int i, ref int signs)
    {
        if (x >= 0)
        {
            return x;
        }

        signs |= 1 << i;
        return -x;
    }

    private static void Store(ref BlockIQ2_S y, int g, int gridIndex, byte signs)
    {
        y.Qs[g] = (byte)gridIndex;
        y.Qh[g / 4] |= (byte)((gridIndex >> 8) << (2 * (g % 4)));
        y.Qs[32 + g] = signs;
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ2_S> x = MemoryMarshal.Cast<byte, BlockIQ2_S>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq2S;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                float db0 = d * (0.5f + (x[i].Scales[ib] & 0xF)) * 0.25f;
                float db1 = d * (0.5f + (x[i].Scales[ib] >> 4)) * 0.25f;
                for (int l = 0; l < 4; ++l)
                {
                    int g = 4 * ib + l;
                    ulong point = grid[x[i].GridIndex(g)];
                    byte signs = x[i].Qs[32 + g];
                    float dl = l < 2 ? db0 : db1;
                    for (int j = 0; j < 8; ++j)
                    {
                        y[o++] = dl * (byte)(point >> (8 * j)) * ((signs & (1 << j)) != 0 ? -1f : 1f);
                    }
                }
            }
        }
    }
}
