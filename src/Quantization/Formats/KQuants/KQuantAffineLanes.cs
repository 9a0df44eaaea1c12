using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Q4_K / Q5_K quantization with the searches lane-parallel. A chunk of Count super-blocks runs
/// <see cref="LaneSearch.MakeQkx2Quants"/> (reference path) or <see cref="LaneSearch.MakeQkx3Quants"/> (importance path)
/// with one 32-value sub-block per lane, then, on the importance path, <see cref="LaneSearch.MakeQpQuants"/> with one
/// super-block per lane for the scales and again for the mins. Every lane replays the scalar sequence exactly, so the
/// bytes are those of <see cref="KQuantAffine.QuantizeRow{TFormat}"/>.
/// </summary>
internal static class KQuantAffineLanes
{
    private const int SubBlock = 32;
    private const int SubBlocks = KQuantAffine.SubBlocks;
    private const int MaxLanes = 16; // Vector512 of floats
    private const int MaxSubBlocks = MaxLanes * SubBlocks;

    /// <summary>Quantizes one row with the widest accelerated vector; false when none is (the caller runs the reference).</summary>
    public static bool TryQuantizeRow<TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TFormat : IKQuantAffineFormat =>
        LaneDispatch.TryQuantizeRow<Lanes<TFormat>>(x, destination, importance);

    private readonly struct Lanes<TFormat> : ILaneQuantizer where TFormat : IKQuantAffineFormat
    {
        public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
            where TVec : struct, ISimdFloat<TVec> =>
            QuantizeRow<TVec, TFormat>(x, destination, importance);
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
        // The searches' codes of the whole chunk in lane layout (group g of Count sub-blocks at [32·Count·g]): only a
        // sub-block whose final scale is zero keeps them, so they are read back just for those.
        Span<float> lt = stackalloc float[SubBlock * MaxSubBlocks];
        Span<float> laux = stackalloc float[SubBlock * MaxLanes];
        Span<float> sigma2 = stackalloc float[MaxSubBlocks];
        Span<float> scales = stackalloc float[MaxSubBlocks];
        Span<float> mins = stackalloc float[MaxSubBlocks];
        Span<float> sw = stackalloc float[MaxSubBlocks];
        Span<float> dBlock = stackalloc float[MaxLanes];
        Span<float> mBlock = stackalloc float[MaxLanes];
        Span<float> lsT = stackalloc float[MaxSubBlocks];
        Span<float> lmT = stackalloc float[MaxSubBlocks];
        Span<byte> ls = stackalloc byte[SubBlocks];
        Span<byte> lm = stackalloc byte[SubBlocks];
        Span<byte> L = stackalloc byte[MaxLanes * KQuantAffine.BlockSize];
        Span<byte> packed = stackalloc byte[12];
        ref float xr = ref MemoryMarshal.GetReference(xt);
        ref float wr = ref MemoryMarshal.GetReference(wt);
        ref float ar = ref MemoryMarshal.GetReference(laux);

        for (int ib0 = 0; ib0 < nb; ib0 += c)
        {
            int blocks = Math.Min(c, nb - ib0);
            int subBlocks = SubBlocks * blocks;
            ReadOnlySpan<float> xc = x.Slice(ib0 * KQuantAffine.BlockSize, blocks * KQuantAffine.BlockSize);
            ReadOnlySpan<float> qc = weighted ? importance.Slice(ib0 * KQuantAffine.BlockSize, blocks * KQuantAffine.BlockSize) : default;
            if (weighted)
            {
                for (int b = 0; b < blocks; ++b)
                {
                    float s2 = KQuantAffine.Sigma2(xc.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize));
                    sigma2.Slice(b * SubBlocks, SubBlocks).Fill(s2);
                }
            }

            // The sub-block searches, Count sub-blocks at a time.
            for (int s0 = 0; s0 < subBlocks; s0 += c)
            {
                int lanes = Math.Min(c, subBlocks - s0);
                ref float lr = ref lt[SubBlock * s0];
                if (lanes < c)
                {
                    xt.Clear();
                    wt.Clear();
                }

                if (lanes == c)
                {
                    // Each half of the 32-value sub-blocks as 16-value groups 32 floats apart.
                    for (int h = 0; h < SubBlock; h += 16)
                    {
                        LaneSearch.Transpose16(xc[(s0 * SubBlock + h)..], c, xt[(h * c)..], stride: SubBlock);
                        if (weighted)
                        {
                            LaneSearch.Transpose16(qc[(s0 * SubBlock + h)..], c, wt[(h * c)..], stride: SubBlock);
                        }
                    }
                }
                else
                {
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

                    TVec.Store(sumW, ref sw[s0]);
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

                TVec.Store(scale, ref scales[s0]);
                TVec.Store(theMin, ref mins[s0]);
            }

            if (weighted)
            {
                // make_qp_quants(8, 63, ·, Σw) with one super-block per lane, for the scales and then the mins
                QpLanes<TVec>(scales, sw, blocks, xt, wt, lsT, dBlock);
                QpLanes<TVec>(mins, sw, blocks, xt, wt, lmT, mBlock);
            }

            for (int b = 0; b < blocks; ++b)
            {
                ReadOnlySpan<float> xb = xc.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize);
                Span<byte> Lb = L.Slice(b * KQuantAffine.BlockSize, KQuantAffine.BlockSize);
                ushort d, dmin;
                if (weighted)
                {
                    for (int j = 0; j < SubBlocks; ++j)
                    {
                        ls[j] = (byte)lsT[j * c + b];
                        lm[j] = (byte)lmT[j * c + b];
                    }

                    KQuantAffine.PackCodes(TFormat.ClampImportanceCodes, ls, lm, packed);
                    d = Fp16.FromSingle(dBlock[b]);
                    dmin = Fp16.FromSingle(mBlock[b]);
                }
                else
                {
                    KQuantAffine.EncodeScales(scales.Slice(b * SubBlocks, SubBlocks), mins.Slice(b * SubBlocks, SubBlocks), packed, out d, out dmin);
                }

                Requantize(xb, TFormat.Nmax, d, dmin, packed, Lb, lt, SubBlocks * b, c);
                Span<byte> block = destination.Slice((ib0 + b) * TFormat.BlockBytes, TFormat.BlockBytes);
                if (typeof(TFormat) == typeof(Q5_KReference.Format))
                {
                    PackQ5_K(block, d, dmin, packed, Lb);
                }
                else if (typeof(TFormat) == typeof(Q4_KReference.Format))
                {
                    PackQ4_K(block, d, dmin, packed, Lb);
                }
                else
                {
                    TFormat.Pack(block, d, dmin, packed, Lb);
                }
            }
        }
    }

    /// <summary>
    /// make_qp_quants over <paramref name="blocks"/> super-blocks, lane b taking values [8b, 8b + 8) of
    /// <paramref name="values"/> and <paramref name="sw"/>; codes land transposed in <paramref name="codes"/>
    /// (code j of lane b at [j·Count + b]) and the scales in <paramref name="result"/>.
    /// </summary>
    private static void QpLanes<TVec>(ReadOnlySpan<float> values, ReadOnlySpan<float> sw, int blocks, Span<float> vt, Span<float> wt,
                                      Span<float> codes, Span<float> result)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        vt[..(SubBlocks * c)].Clear();
        wt[..(SubBlocks * c)].Clear();
        for (int b = 0; b < blocks; ++b)
        {
            for (int j = 0; j < SubBlocks; ++j)
            {
                vt[j * c + b] = values[b * SubBlocks + j];
                wt[j * c + b] = sw[b * SubBlocks + j];
            }
        }

        TVec scale = LaneSearch.MakeQpQuants<TVec>(SubBlocks, 63, in MemoryMarshal.GetReference(vt), in MemoryMarshal.GetReference(wt),
                                                   ref MemoryMarshal.GetReference(codes));
        TVec.Store(scale, ref MemoryMarshal.GetReference(result));
    }

    /// <summary>Q4_K's packing (codes 0 .. 15) with 16 nibble pairs per vector: byte 32c + l holds codes 64c + l and 64c + 32 + l.</summary>
    private static void PackQ4_K(Span<byte> block, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, ReadOnlySpan<byte> L)
    {
        ref BlockQ4_K y = ref MemoryMarshal.AsRef<BlockQ4_K>(block);
        y.D = d;
        y.DMin = dmin;
        packedScales.CopyTo(y.Scales);
        ref byte lr = ref MemoryMarshal.GetReference(L);
        ref byte qs = ref MemoryMarshal.GetReference((Span<byte>)y.Qs);
        for (int c = 0; c < 4; ++c)
        {
            for (int h = 0; h < 32; h += 16)
            {
                Vector128<byte> a = Vector128.LoadUnsafe(ref lr, (nuint)(64 * c + h));
                Vector128<byte> b = Vector128.LoadUnsafe(ref lr, (nuint)(64 * c + 32 + h));
                (a | Vector128.ShiftLeft(b, 4)).StoreUnsafe(ref qs, (nuint)(32 * c + h));
            }
        }
    }

    /// <summary>
    /// Q5_K's packing (codes 0 .. 31) with 16 values per vector: the low nibbles as in Q4_K, bit 4 of code 64c + l
    /// in bit 2c of qh[l] and bit 4 of code 64c + 32 + l in bit 2c + 1.
    /// </summary>
    private static void PackQ5_K(Span<byte> block, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, ReadOnlySpan<byte> L)
    {
        ref BlockQ5_K y = ref MemoryMarshal.AsRef<BlockQ5_K>(block);
        y.D = d;
        y.DMin = dmin;
        packedScales.CopyTo(y.Scales);
        ref byte lr = ref MemoryMarshal.GetReference(L);
        ref byte qs = ref MemoryMarshal.GetReference((Span<byte>)y.Qs);
        ref byte qhr = ref MemoryMarshal.GetReference((Span<byte>)y.Qh);
        Vector128<byte> low = Vector128.Create((byte)0x0F);
        Vector128<byte> one = Vector128.Create((byte)1);
        for (int h = 0; h < 32; h += 16)
        {
            Vector128<byte> qh = Vector128<byte>.Zero;
            for (int c = 0; c < 4; ++c)
            {
                Vector128<byte> a = Vector128.LoadUnsafe(ref lr, (nuint)(64 * c + h));
                Vector128<byte> b = Vector128.LoadUnsafe(ref lr, (nuint)(64 * c + 32 + h));
                ((a & low) | Vector128.ShiftLeft(b & low, 4)).StoreUnsafe(ref qs, (nuint)(32 * c + h));
                qh |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(a, 4) & one, 2 * c)
                    | Vector128.ShiftLeft(Vector128.ShiftRightLogical(b, 4) & one, 2 * c + 1);
            }

            qh.StoreUnsafe(ref qhr, (nuint)h);
        }
    }

    /// <summary><see cref="KQuantAffine.Requantize"/> with 32 codes per sub-block computed in vector lanes.</summary>
    private static void Requantize(ReadOnlySpan<float> x, int nmax, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, Span<byte> L,
                                   ReadOnlySpan<float> laneCodes, int firstSubBlock, int lanes)
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
                SubBlockCodes.FirstPass(laneCodes, lanes, firstSubBlock + j, L.Slice(SubBlock * j, SubBlock)); // the search's codes stay
                continue;
            }

            ref float xs = ref Unsafe.Add(ref xr, SubBlock * j);
            SubBlockCodes.Requantize16(ref xs, dj, dminf * m, hasMin: true, offset: 0, top: nmax, ref Unsafe.Add(ref lr, SubBlock * j));
            SubBlockCodes.Requantize16(ref Unsafe.Add(ref xs, 16), dj, dminf * m, hasMin: true, offset: 0, top: nmax, ref Unsafe.Add(ref lr, SubBlock * j + 16));
        }
    }
}
