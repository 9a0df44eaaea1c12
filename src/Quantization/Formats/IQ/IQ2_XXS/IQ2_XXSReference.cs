using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ2_XXS: <c>quantize_row_iq2_xxs_impl</c> (importance required) and
/// <c>dequantize_row_iq2_xxs</c>, in ggml's float32 order (docs/formats.md#iq2_xxs).
/// </summary>
internal static class IQ2_XXSReference
{
    public const int SuperBlockSize = 256;

    /// <summary>Levels 0..kMaxQ − 1 per coordinate (lattice coordinates 1, 3, 5).</summary>
    private const int KMaxQ = 3;

    private const float GroupMaxEps = 1e-15f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (importance.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(importance), "IQ2_XXS needs importance weights (an imatrix), as in ggml.");
        }

        IqLattice lattice = IqLattice.Iq2Xxs;
        Span<BlockIQ2_XXS> y = MemoryMarshal.Cast<byte, BlockIQ2_XXS>(destination);
        Span<float> scales = stackalloc float[8];
        Span<float> weight = stackalloc float[32];
        Span<float> xval = stackalloc float[32];
        Span<float> waux = stackalloc float[32];
        Span<sbyte> L = stackalloc sbyte[32];
        Span<sbyte> Laux = stackalloc sbyte[32];
        Span<byte> qpLevels = stackalloc byte[32];
        Span<byte> blockSigns = stackalloc byte[4];
        Span<uint> q2 = stackalloc uint[16];

        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            y[ibl].D = Fp16.FromSingle(0f);
            q2.Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            Iq2Search.ThrowIfSquaresOverflow(sumx2, ibl);
            float sigma2 = sumx2 / SuperBlockSize;

            for (int ib = 0; ib < 8; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(32 * ib, 32);
                ReadOnlySpan<float> qw = importance.Slice(SuperBlockSize * ibl + 32 * ib, 32);
                IqWeights.Fill(xb, qw, sigma2, weight[..32], waux[..32]);

                for (int k = 0; k < 4; ++k)
                {
                    blockSigns[k] = Iq2Search.EvenSigns(xb.Slice(8 * k, 8), weight.Slice(8 * k, 8), xval.Slice(8 * k, 8));
                }

                float max = xval[0];
                for (int i = 1; i < 32; ++i)
                {
                    max = max > xval[i] ? max : xval[i];
                }

                if (max < GroupMaxEps)
                {
                    scales[ib] = 0;
                    L.Clear();
                    continue;
                }

                // ggml lets make_qp_quants write L itself: levels up to 4, off the 2-bit grid. They survive only when
                // the scale is NaN (every later test fails), and then ggml aborts below (OnGridIndex throws).
                float scale = QuantSearch.MakeQpQuants(32, KMaxQ + 1, xval, qpLevels, weight);
                MemoryMarshal.Cast<byte, sbyte>(qpLevels).CopyTo(L);
                float effMax = scale * KMaxQ;
                if (effMax <= 0)
                {
                    scales[ib] = 0;
                    L.Clear();
                    continue;
                }

                float best = 0;
                for (int step = -6; step <= 6; ++step)
                {
                    float id = (2 * KMaxQ - 1 + step * 0.1f) / effMax;
                    float thisScale = 1 / id;
                    for (int k = 0; k < 4; ++k)
                    {
                        Iq2Search.SnapGroup(lattice, id, thisScale, xval.Slice(8 * k, 8), waux.Slice(8 * k, 8), Laux.Slice(8 * k, 8));
                    }

                    (float sumqx, float sumq2) = Iq2Search.Moments(weight, xval, Laux);
                    if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                    {
                        scale = sumqx / sumq2;
                        best = scale * sumqx;
                        Laux.CopyTo(L);
                    }
                }

                if (scale > 0)
                {
                    float id = 1 / scale;
                    for (int k = 0; k < 4; ++k)
                    {
                        int gridIndex = Iq2Search.SnapGroup(lattice, id, scale, xval.Slice(8 * k, 8), waux.Slice(8 * k, 8), L.Slice(8 * k, 8));
                        for (int i = 0; i < 8; ++i)
                        {
                            L[8 * k + i] = (sbyte)lattice.Level(gridIndex, i);
                        }
                    }

                    (float sumqx, float sumq2) = Iq2Search.Moments(weight, xval, L);
                    if (sumq2 > 0)
                    {
                        scale = sumqx / sumq2;
                    }
                }

                if (scale < 0)
                {
                    // ggml: cannot happen, but a negative scale would flip every sign (parity bit dropped).
                    scale = -scale;
                    for (int k = 0; k < 4; ++k)
                    {
                        blockSigns[k] = (byte)(~blockSigns[k] & 127);
                    }
                }

                for (int k = 0; k < 4; ++k)
                {
                    int gridIndex = Iq2Search.OnGridIndex(lattice, L.Slice(8 * k, 8));
                    q2[2 * ib] |= (uint)gridIndex << (8 * k);
                    q2[2 * ib + 1] |= (uint)blockSigns[k] << (7 * k);
                }

                scales[ib] = scale;
                maxScale = maxScale > scale ? maxScale : scale;
            }

            Span<byte> qs = y[ibl].Qs;
            if (maxScale == 0)
            {
                qs.Clear();
                continue;
            }

            float d = maxScale / 31;
            y[ibl].D = Fp16.FromSingle(d);
            float invD = 1 / d;
            for (int ib = 0; ib < 8; ++ib)
            {
                int l = Math.Clamp(Rounding.NearestInt(0.5f * (invD * scales[ib] - 1)), 0, 15);
                q2[2 * ib + 1] |= (uint)l << 28;
            }

            MemoryMarshal.AsBytes(q2).CopyTo(qs);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ2_XXS> x = MemoryMarshal.Cast<byte, BlockIQ2_XXS>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq2Xxs;
        ReadOnlySpan<byte> signPatterns = IqGrids.SignPatterns;
        int o = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                uint aux = x[i].SignsAndScale(ib);
                float db = d * (0.5f + (aux >> 28)) * 0.25f;
                for (int l = 0; l < 4; ++l)
                {
                    ulong g = grid[x[i].Qs[8 * ib + l]];
                    byte signs = signPatterns[(int)(aux >> (7 * l)) & 127];
                    for (int j = 0; j < 8; ++j)
                    {
                        y[o++] = db * (byte)(g >> (8 * j)) * ((signs & (1 << j)) != 0 ? -1f : 1f);
                    }
                }
            }
        }
    }
}
