using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Q4_K / Q5_K quantization with the sub-block searches lane-parallel: each vector lane is one 32-value sub-block
/// and replays <see cref="QuantSearch.MakeQkx2Quants"/> (reference path) or <see cref="QuantSearch.MakeQkx3Quants"/>
/// (importance path) exactly; the per-super-block steps after the searches are <see cref="KQuantAffine"/>'s own.
/// The bytes are those of <see cref="KQuantAffine.QuantizeRow{TFormat}"/>.
/// </summary>
internal static class KQuantAffineLanes
{
    private const int SubBlock = 32;
    private const int ChunkBlocks = 2;
    private const int MaxLanes = ChunkBlocks * KQuantAffine.SubBlocks; // 16, one Vector512 of sub-blocks

    /// <summary>Quantizes one row with the widest accelerated vector; false when none is (the caller runs the reference).</summary>
    public static bool TryQuantizeRow<TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TFormat : IKQuantAffineFormat
    {
        if (SimdFloat512.IsSupported)
        {
            QuantizeRow<SimdFloat512, TFormat>(x, destination, importance);
        }
        else if (SimdFloat256.IsSupported)
        {
            QuantizeRow<SimdFloat256, TFormat>(x, destination, importance);
        }
        else if (SimdFloat128.IsSupported)
        {
            QuantizeRow<SimdFloat128, TFormat>(x, destination, importance);
        }
        else
        {
            return false;
        }

        return true;
    }

    private static void QuantizeRow<TVec, TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
        where TFormat : IKQuantAffineFormat
    {
        int c = TVec.Count;
        bool weighted = !importance.IsEmpty;
        int nb = x.Length / KQuantAffine.BlockSize;
        Span<float> xt = stackalloc float[SubBlock * MaxLanes];
        Span<float> wt = stackalloc float[SubBlock * MaxLanes];
        Span<float> lt = stackalloc float[SubBlock * MaxLanes];
        Span<float> laux = stackalloc float[SubBlock * MaxLanes];
        Span<float> sigma2 = stackalloc float[MaxLanes];
        Span<float> laneScale = stackalloc float[MaxLanes];
        Span<float> laneMin = stackalloc float[MaxLanes];
        Span<float> laneSw = stackalloc float[MaxLanes];
        Span<float> scales = stackalloc float[MaxLanes];
        Span<float> mins = stackalloc float[MaxLanes];
        Span<float> sw = stackalloc float[MaxLanes];
        Span<byte> L = stackalloc byte[ChunkBlocks * KQuantAffine.BlockSize];
        Span<byte> packed = stackalloc byte[12];
        ref float xr = ref MemoryMarshal.GetReference(xt);
        ref float wr = ref MemoryMarshal.GetReference(wt);
        ref float lr = ref MemoryMarshal.GetReference(lt);
        ref float ar = ref MemoryMarshal.GetReference(laux);

        for (int ib0 = 0; ib0 < nb; ib0 += ChunkBlocks)
        {
            int blocks = Math.Min(ChunkBlocks, nb - ib0);
            int subBlocks = KQuantAffine.SubBlocks * blocks;
            ReadOnlySpan<float> xc = x.Slice(ib0 * KQuantAffine.BlockSize, blocks * KQuantAffine.BlockSize);
            ReadOnlySpan<float> qc = weighted ? importance.Slice(ib0 * KQuantAffine.BlockSize, blocks * KQuantAffine.BlockSize) : default;
            if (weighted)
            {
                for (int b = 0; b < blocks; ++b)
                {
                    float s2 = KQuantAffine.Sigma2(xc.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize));
                    sigma2.Slice(b * KQuantAffine.SubBlocks, KQuantAffine.SubBlocks).Fill(s2);
                }
            }

            for (int s0 = 0; s0 < subBlocks; s0 += c)
            {
                int lanes = Math.Min(c, subBlocks - s0);
                if (lanes < c)
                {
                    xt.Clear();
                    wt.Clear();
                }

                for (int k = 0; k < lanes; ++k)
                {
                    ReadOnlySpan<float> xs = xc.Slice((s0 + k) * SubBlock, SubBlock);
                    for (int i = 0; i < SubBlock; ++i)
                    {
                        xt[i * c + k] = xs[i];
                    }

                    if (weighted)
                    {
                        ReadOnlySpan<float> qs = qc.Slice((s0 + k) * SubBlock, SubBlock);
                        for (int i = 0; i < SubBlock; ++i)
                        {
                            wt[i * c + k] = qs[i];
                        }
                    }
                }

                TVec theMin;
                TVec scale;
                if (weighted)
                {
                    // w = qw·sqrt(σ² + x²) and Σw, in the reference's order
                    TVec s2 = TVec.Load(in sigma2[s0]);
                    TVec sumW = TVec.Create(0);
                    for (int i = 0; i < SubBlock; ++i)
                    {
                        TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                        ref float wi = ref Unsafe.Add(ref wr, i * c);
                        TVec w = TVec.Load(in wi) * TVec.Sqrt(s2 + xi * xi);
                        TVec.Store(w, ref wi);
                        sumW += w;
                    }

                    TVec.Store(sumW, ref laneSw[0]);
                    scale = LaneSearch.MakeQkx3Quants(SubBlock, TFormat.Nmax, in xr, in wr, ref lr, ref ar, -0.9f, 0.05f, 36, out theMin);
                }
                else
                {
                    // w = av_x + |x| with av_x = sqrt(Σx²/32)
                    TVec sumX2 = TVec.Create(0);
                    for (int i = 0; i < SubBlock; ++i)
                    {
                        TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                        sumX2 += xi * xi;
                    }

                    TVec avX = TVec.Sqrt(sumX2 / TVec.Create(SubBlock));
                    for (int i = 0; i < SubBlock; ++i)
                    {
                        TVec.Store(avX + TVec.Abs(TVec.Load(in Unsafe.Add(ref xr, i * c))), ref Unsafe.Add(ref wr, i * c));
                    }

                    scale = LaneSearch.MakeQkx2Quants(SubBlock, TFormat.Nmax, in xr, in wr, ref lr, ref ar, TFormat.Rmin, 0.1f, TFormat.Nstep, out theMin);
                }

                TVec.Store(scale, ref laneScale[0]);
                TVec.Store(theMin, ref laneMin[0]);
                for (int k = 0; k < lanes; ++k)
                {
                    int sub = s0 + k;
                    scales[sub] = laneScale[k];
                    mins[sub] = laneMin[k];
                    sw[sub] = laneSw[k];
                    Span<byte> Ls = L.Slice(sub * SubBlock, SubBlock);
                    for (int i = 0; i < SubBlock; ++i)
                    {
                        Ls[i] = (byte)lt[i * c + k];
                    }
                }
            }

            for (int b = 0; b < blocks; ++b)
            {
                ReadOnlySpan<float> xb = xc.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize);
                Span<byte> Lb = L.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize);
                int j0 = b * KQuantAffine.SubBlocks;
                ushort d, dmin;
                if (weighted)
                {
                    KQuantAffine.FinishBlockImportance(xb, TFormat.Nmax, TFormat.ClampImportanceCodes, scales.Slice(j0, 8), mins.Slice(j0, 8),
                                                       sw.Slice(j0, 8), Lb, packed, out d, out dmin);
                }
                else
                {
                    KQuantAffine.FinishBlock(xb, TFormat.Nmax, scales.Slice(j0, 8), mins.Slice(j0, 8), Lb, packed, out d, out dmin);
                }

                TFormat.Pack(destination.Slice((ib0 + b) * TFormat.BlockBytes, TFormat.BlockBytes), d, dmin, packed, Lb);
            }
        }
    }
}
