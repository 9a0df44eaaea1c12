using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
                    KQuantAffine.EncodeScalesImportance(TFormat.ClampImportanceCodes, scales.Slice(j0, 8), mins.Slice(j0, 8), sw.Slice(j0, 8),
                                                        packed, out d, out dmin);
                }
                else
                {
                    KQuantAffine.EncodeScales(scales.Slice(j0, 8), mins.Slice(j0, 8), packed, out d, out dmin);
                }

                Requantize(xb, TFormat.Nmax, d, dmin, packed, Lb);
                TFormat.Pack(destination.Slice((ib0 + b) * TFormat.BlockBytes, TFormat.BlockBytes), d, dmin, packed, Lb);
            }
        }
    }

    /// <summary><see cref="KQuantAffine.Requantize"/> with 32 codes per sub-block computed in vector lanes.</summary>
    private static void Requantize(ReadOnlySpan<float> x, int nmax, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, Span<byte> L)
    {
        float df = Fp16.ToSingle(d);
        float dminf = Fp16.ToSingle(dmin);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref byte lr = ref MemoryMarshal.GetReference(L);
        for (int j = 0; j < KQuantAffine.SubBlocks; ++j)
        {
            KScales.Get(j, packedScales, out int sc, out int m);
            float dj = df * sc;
            if (dj == 0)
            {
                continue; // the first-pass codes stay
            }

            Block32.Codes(ref Unsafe.Add(ref xr, SubBlock * j), new RequantizeCodeOp(dminf * m, dj, nmax), out Vector128<byte> lo, out Vector128<byte> hi);
            lo.StoreUnsafe(ref lr, (nuint)(SubBlock * j));
            hi.StoreUnsafe(ref lr, (nuint)(SubBlock * j + 16));
        }
    }
}

/// <summary>clamp(nearest_int((x + dm)/d), 0, nmax): the K-quant requantization step, ggml's bit trick in every lane.</summary>
internal readonly struct RequantizeCodeOp(float dm, float d, int nmax) : ICodeOp
{
    public int Invoke(float x) => Math.Max(0, Math.Min(nmax, Rounding.NearestInt((x + dm) / d)));

    public Vector128<int> Invoke(Vector128<float> x) =>
        Vector128.Max(Vector128<int>.Zero, Vector128.Min(Vector128.Create(nmax),
            (((x + Vector128.Create(dm)) / Vector128.Create(d) + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF)) - Vector128.Create(0x00400000)));

    public Vector256<int> Invoke(Vector256<float> x) =>
        Vector256.Max(Vector256<int>.Zero, Vector256.Min(Vector256.Create(nmax),
            (((x + Vector256.Create(dm)) / Vector256.Create(d) + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007FFFFF)) - Vector256.Create(0x00400000)));

    public Vector512<int> Invoke(Vector512<float> x) =>
        Vector512.Max(Vector512<int>.Zero, Vector512.Min(Vector512.Create(nmax),
            (((x + Vector512.Create(dm)) / Vector512.Create(d) + Vector512.Create(12582912f)).AsInt32() & Vector512.Create(0x007FFFFF)) - Vector512.Create(0x00400000)));
}
