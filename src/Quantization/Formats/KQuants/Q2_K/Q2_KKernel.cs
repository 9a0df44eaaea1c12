using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q2_K kernels, identical in bytes and floats to <see cref="Q2_KReference"/>.</summary>
internal readonly struct Q2_KKernel : IFastKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.Q2_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<Q2_KKernel>(x, destination, importance))
        {
            Q2_KReference.QuantizeRow(x, destination, importance);
        }
    }

    /// <summary>
    /// The 16 sub-block searches run lane-parallel (make_qkx2_quants with |x| weights, each lane replaying the scalar
    /// sequence exactly); the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportanceLanes<TVec>(x, destination, importance);
            return;
        }

        int c = TVec.Count;
        Span<BlockQ2_K> y = MemoryMarshal.Cast<byte, BlockQ2_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> firstPass = stackalloc float[256];
        Span<float> laux = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> scales = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<byte> L = stackalloc byte[256];
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            ElementWise.Abs(xb, w);
            for (int g = 0; g < 16; g += c)
            {
                LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                TVec s = LaneSearch.MakeQkx2MadQuants(16, 3, in xt[0], in wt[0], ref firstPass[16 * g], ref laux[0], -0.5f, 0.1f, 15, out TVec theMin);
                TVec.Store(s, ref scales[g]);
                TVec.Store(theMin, ref mins[g]);
            }

            Q2_KReference.EncodeScales(scales, mins, ref y[i]);
            RequantizeAndPack(xb, ref y[i], L, firstPass, c);
        }
    }

    /// <summary>
    /// The importance path, Count super-blocks at a time: their Σx² chains interleaved, the sub-block searches
    /// (make_qkx3_quants under the sigma² weights) lane-parallel per super-block, then the scale step (make_qp_quants(16, 15)
    /// of the scales and of the mins under the sub-block weight sums) with one super-block per lane.
    /// </summary>
    private static void QuantizeRowImportanceLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        const int MaxLanes = 16;
        int c = TVec.Count;
        Span<BlockQ2_K> y = MemoryMarshal.Cast<byte, BlockQ2_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> laux = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> sumx2 = stackalloc float[MaxLanes];
        Span<float> scales = stackalloc float[16 * MaxLanes];
        Span<float> mins = stackalloc float[16 * MaxLanes];
        Span<float> sw = stackalloc float[16 * MaxLanes];
        Span<float> firstPass = stackalloc float[256 * MaxLanes];
        Span<float> scaleCodes = stackalloc float[16 * MaxLanes];
        Span<float> minCodes = stackalloc float[16 * MaxLanes];
        Span<float> dBlock = stackalloc float[MaxLanes];
        Span<float> mBlock = stackalloc float[MaxLanes];
        Span<byte> L = stackalloc byte[256];
        int nb = x.Length / 256;
        for (int i0 = 0; i0 < nb; i0 += c)
        {
            int blocks = Math.Min(c, nb - i0);
            ReadOnlySpan<float> xc = x.Slice(256 * i0, 256 * blocks);
            ElementWise.SumSquaresPerBlock(xc, 256, sumx2);
            for (int b = 0; b < blocks; ++b)
            {
                ReadOnlySpan<float> xb = xc.Slice(256 * b, 256);
                ElementWise.ImportanceWeights(xb, importance.Slice(256 * (i0 + b), 256), sumx2[b] / 256, w);
                for (int g = 0; g < 16; g += c)
                {
                    LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    TVec.Store(LaneSearch.SumElements<TVec>(16, in wt[0]), ref sw[16 * b + g]);
                    TVec s = LaneSearch.MakeQkx3Quants(16, 3, in xt[0], in wt[0], ref firstPass[256 * b + 16 * g], ref laux[0], -0.9f, 0.05f, 36, out TVec theMin);
                    TVec.Store(s, ref scales[16 * b + g]);
                    TVec.Store(theMin, ref mins[16 * b + g]);
                }
            }

            // Lanes without a super-block search all-zero values and are ignored.
            scales[(16 * blocks)..(16 * c)].Clear();
            mins[(16 * blocks)..(16 * c)].Clear();
            sw[(16 * blocks)..(16 * c)].Clear();
            LaneSearch.Transpose16(sw, c, wt);
            LaneSearch.Transpose16(scales, c, xt);
            TVec.Store(LaneSearch.MakeQpQuants<TVec>(16, 15, in xt[0], in wt[0], ref scaleCodes[0]), ref dBlock[0]);
            LaneSearch.Transpose16(mins, c, xt);
            TVec.Store(LaneSearch.MakeQpQuants<TVec>(16, 15, in xt[0], in wt[0], ref minCodes[0]), ref mBlock[0]);
            for (int b = 0; b < blocks; ++b)
            {
                ref BlockQ2_K block = ref y[i0 + b];
                block.D = Fp16.FromSingle(dBlock[b]);
                block.Dmin = Fp16.FromSingle(mBlock[b]);
                for (int j = 0; j < 16; ++j)
                {
                    block.Scales[j] = (byte)((byte)scaleCodes[j * c + b] | ((byte)minCodes[j * c + b] << 4));
                }

                RequantizeAndPack(xc.Slice(256 * b, 256), ref block, L, firstPass.Slice(256 * b, 256), c);
            }
        }
    }

    /// <summary>
    /// <see cref="Q2_KReference.Requantize"/>: each sub-block requantized with its final scale and min (a sub-block
    /// with d == 0 keeps its first-pass codes, read from the search's lane layout <paramref name="firstPass"/>), then
    /// <see cref="BlockQ2_K.PackLow2"/> 16 codes per step.
    /// </summary>
    private static void RequantizeAndPack(ReadOnlySpan<float> xb, ref BlockQ2_K b, Span<byte> L, ReadOnlySpan<float> firstPass, int lanes)
    {
        float dAll = Fp16.ToSingle(b.D);
        float mAll = Fp16.ToSingle(b.Dmin);
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref MemoryMarshal.GetReference(L);
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * (b.Scales[j] & 0xF);
            if (d == 0)
            {
                SubBlockCodes.FirstPass(firstPass, lanes, j, L.Slice(16 * j, 16));
            }
            else
            {
                SubBlockCodes.Requantize16(ref Unsafe.Add(ref xr, 16 * j), d, mAll * (b.Scales[j] >> 4), hasMin: true, offset: 0, top: 3, ref Unsafe.Add(ref lr, 16 * j));
            }
        }

        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; l += 16)
            {
                (Vector128.LoadUnsafe(ref lr, (nuint)(j + l))
                    | Vector128.ShiftLeft(Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 32)), 2)
                    | Vector128.ShiftLeft(Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 64)), 4)
                    | Vector128.ShiftLeft(Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 96)), 6)).StoreUnsafe(ref b.Qs[j / 4 + l]);
            }
        }
    }

    /// <summary>16 values per step: the 2-bit codes of one sub-block widened to floats, dl·q − ml.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ2_K> x = MemoryMarshal.Cast<byte, BlockQ2_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        Vector128<byte> three = Vector128.Create((byte)3);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ2_K b = ref x[i];
            float d = Fp16.ToSingle(b.D);
            float min = Fp16.ToSingle(b.Dmin);
            ref float yb = ref Unsafe.Add(ref yr, i * 256);
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q0 = Vector128.LoadUnsafe(in b.Qs[32 * n]);
                Vector128<byte> q1 = Vector128.LoadUnsafe(in b.Qs[32 * n + 16]);
                for (int s = 0; s < 4; s++)
                {
                    int k = 8 * n + 2 * s;
                    ref float ys = ref Unsafe.Add(ref yb, 128 * n + 32 * s);
                    Block32.Values16((Vector128.ShiftRightLogical(q0, 2 * s) & three).AsSByte(), Op(d, min, b.Scales[k]), ref ys);
                    Block32.Values16((Vector128.ShiftRightLogical(q1, 2 * s) & three).AsSByte(), Op(d, min, b.Scales[k + 1]), ref Unsafe.Add(ref ys, 16));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Q2_KValueOp Op(float d, float min, byte sc) => new(d * (sc & 0xF), min * (sc >> 4));
}

/// <summary>dl·q − ml, multiply then subtract (a true subtraction: adding −ml would flip the sign of a NaN ml).</summary>
internal readonly struct Q2_KValueOp(float dl, float ml) : IValueOp
{
    public Vector128<float> Invoke(Vector128<int> q) => Vector128.Create(dl) * Vector128.ConvertToSingle(q) - Vector128.Create(ml);

    public Vector256<float> Invoke(Vector256<int> q) => Vector256.Create(dl) * Vector256.ConvertToSingle(q) - Vector256.Create(ml);

    public Vector512<float> Invoke(Vector512<int> q) => Vector512.Create(dl) * Vector512.ConvertToSingle(q) - Vector512.Create(ml);
}
