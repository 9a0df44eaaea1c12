using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Scalar reference of IQ2_XS: <c>quantize_row_iq2_xs_impl</c> (importance required) and
/// <c>dequantize_row_iq2_xs</c>, in ggml's float32 order (docs/formats.md#iq2_xs).
/// </summary>
internal static class IQ2_XSReference
{
    public const int SuperBlockSize = 256;

    private const float GroupMaxEps = 1e-15f;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (importance.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(importance), "IQ2_XS needs importance weights (an imatrix), as in ggml.");
        }

        IqLattice lattice = IqLattice.Iq2Xs;
        Span<BlockIQ2_XS> y = MemoryMarshal.Cast<byte, BlockIQ2_XS>(destination);
        Span<float> scales = stackalloc float[16];
        Span<float> weight = stackalloc float[16];
        Span<float> xval = stackalloc float[16];
        Span<float> waux = stackalloc float[16];
        Span<sbyte> L = stackalloc sbyte[16];
        Span<ushort> q2 = stackalloc ushort[32];

        for (int ibl = 0; ibl < x.Length / SuperBlockSize; ++ibl)
        {
            y[ibl].D = Fp16.FromSingle(0f);
            q2.Clear();
            ((Span<byte>)y[ibl].Scales).Clear();
            float maxScale = 0;
            ReadOnlySpan<float> xbl = x.Slice(SuperBlockSize * ibl, SuperBlockSize);
            float sumx2 = IqWeights.SumOfSquares(xbl);

            Iq2Search.ThrowIfSquaresOverflow(sumx2, ibl);
            float sigma2 = sumx2 / SuperBlockSize;

            for (int ib = 0; ib < 16; ++ib)
            {
                ReadOnlySpan<float> xb = xbl.Slice(16 * ib, 16);
                ReadOnlySpan<float> qw = importance.Slice(SuperBlockSize * ibl + 16 * ib, 16);
                IqWeights.Fill(xb, qw, sigma2, weight[..16], waux[..16]);

                byte signs0 = Iq2Search.EvenSigns(xb[..8], weight[..8], xval[..8]);
                byte signs1 = Iq2Search.EvenSigns(xb[8..], weight[8..], xval[8..]);

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
                    signs0 = (byte)(~signs0 & 127);
                    signs1 = (byte)(~signs1 & 127);
                }

                q2[2 * ib] = (ushort)(Iq2Search.OnGridIndex(lattice, L[..8]) | (signs0 << 9));
                q2[2 * ib + 1] = (ushort)(Iq2Search.OnGridIndex(lattice, L[8..]) | (signs1 << 9));
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
            float id = 1 / d;
            for (int ib = 0; ib < 16; ++ib)
            {
                int l = Math.Clamp(Rounding.NearestInt(0.5f * (id * scales[ib] - 1)), 0, 15);
                y[ibl].Scales[ib / 2] |= (byte)(l << (4 * (ib % 2)));
            }

            MemoryMarshal.AsBytes(q2).CopyTo(qs);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockIQ2_XS> x = MemoryMarshal.Cast<byte, BlockIQ2_XS>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq2Xs;
        ReadOnlySpan<byte> signPatterns = IqGrids.SignPatterns;
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
                    int code = x[i].Code(4 * ib + l);
                    ulong g = grid[code & 511];
                    byte signs = signPatterns[code >> 9];
                    float db = l < 2 ? db0 : db1;
                    for (int j = 0; j < 8; ++j)
                    {
                        y[o++] = db * (byte)(g >> (8 * j)) * ((signs & (1 << j)) != 0 ? -1f : 1f);
                    }
                }
            }
        }
    }
}
