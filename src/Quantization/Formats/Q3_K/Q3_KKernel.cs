using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q3_K kernels, identical in bytes and floats to <see cref="Q3_KReference"/>.</summary>
internal readonly struct Q3_KKernel : IQuantKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.Q3_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<Q3_KKernel>(x, destination, importance))
        {
            Q3_KReference.QuantizeRow(x, destination, importance);
        }
    }

    /// <summary>
    /// The 16 sub-block searches run lane-parallel (make_q3_quants without importance, make_qx_quants with it; each
    /// lane replays the scalar sequence exactly); the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> lt = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> scratch = stackalloc float[512];
        Span<float> scales = stackalloc float[16];
        Span<float> sw = stackalloc float[16];
        Span<sbyte> L = stackalloc sbyte[256];
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            if (!importance.IsEmpty)
            {
                float sumx2 = 0;
                for (int j = 0; j < 256; ++j)
                {
                    sumx2 += xb[j] * xb[j];
                }

                ElementWise.ImportanceWeights(xb, importance.Slice(256 * i, 256), 2 * sumx2 / 256, w);
                for (int j = 0; j < 16; ++j)
                {
                    float sumw = 0;
                    for (int l = 0; l < 16; ++l)
                    {
                        sumw += w[16 * j + l];
                    }

                    sw[j] = sumw;
                }
            }

            for (int g = 0; g < 16; g += c)
            {
                LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                TVec s;
                if (importance.IsEmpty)
                {
                    s = LaneSearch.MakeQ3Quants<TVec>(16, 4, in xt[0], ref lt[16 * g], ref scratch[0]);
                }
                else
                {
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    s = LaneSearch.MakeQxQuants<TVec>(16, 4, in xt[0], in wt[0], ref lt[16 * g]);
                }

                TVec.Store(s, ref scales[g]);
            }

            ref BlockQ3_K b = ref y[i];
            if (importance.IsEmpty)
            {
                Q3_KReference.EncodeReferenceScales(scales, ref b);
            }
            else
            {
                Q3_KReference.EncodeImportanceScales(scales, sw, ref b);
            }

            FinishVector(xb, ref b, L, lt, c);
        }
    }

    /// <summary>
    /// The reference's Finish: each sub-block requantized with its final scale (a sub-block with d == 0 keeps its
    /// first-pass codes, read from the search's lane layout <paramref name="firstPass"/>), then hmask bits and low
    /// bit pairs 16 codes per step.
    /// </summary>
    private static void FinishVector(ReadOnlySpan<float> xb, ref BlockQ3_K b, Span<sbyte> L, ReadOnlySpan<float> firstPass, int lanes)
    {
        float dAll = Fp16.ToSingle(b.D);
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(L));
        ReadOnlySpan<byte> packed = b.Scales;
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * BlockQ3_K.GetScale(packed, j);
            if (d == 0)
            {
                SubBlockCodes.FirstPass16(firstPass, lanes, j, MemoryMarshal.AsBytes(L.Slice(16 * j, 16)));
            }
            else
            {
                SubBlockCodes.Requantize16(ref Unsafe.Add(ref xr, 16 * j), d, 0, hasMin: false, offset: 4, top: 7, ref Unsafe.Add(ref lr, 16 * j));
            }
        }

        Vector128<byte> one = Vector128.Create((byte)1);
        Vector128<byte> three = Vector128.Create((byte)3);
        for (int h = 0; h < 32; h += 16)
        {
            Vector128<byte> hm = Vector128<byte>.Zero;
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q = Vector128<byte>.Zero;
                for (int s = 0; s < 4; s++)
                {
                    int k = 4 * n + s;
                    Vector128<byte> c = Vector128.LoadUnsafe(ref lr, (nuint)(32 * k + h));
                    hm |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(c, 2) & one, k);
                    q |= Vector128.ShiftLeft(c & three, 2 * s);
                }

                q.StoreUnsafe(ref b.Qs[32 * n + h]);
            }

            hm.StoreUnsafe(ref b.Hmask[h]);
        }
    }


    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q3_KReference.QuantizeRow(x, destination, importance);

    /// <summary>16 values per step: low bit pair plus hmask bit gives q + 4 (0..7), then (q + 4 − 4)·dl.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Vector128.IsHardwareAccelerated)
        {
            Q3_KReference.Dequantize(source, destination);
            return;
        }

        ReadOnlySpan<BlockQ3_K> x = MemoryMarshal.Cast<byte, BlockQ3_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        Vector128<byte> three = Vector128.Create((byte)3);
        Vector128<byte> one = Vector128.Create((byte)1);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ3_K b = ref x[i];
            float dAll = Fp16.ToSingle(b.D);
            ReadOnlySpan<byte> scales = b.Scales;
            Vector128<byte> h0 = Vector128.LoadUnsafe(in b.Hmask[0]);
            Vector128<byte> h1 = Vector128.LoadUnsafe(in b.Hmask[16]);
            ref float yb = ref Unsafe.Add(ref yr, i * 256);
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q0 = Vector128.LoadUnsafe(in b.Qs[32 * n]);
                Vector128<byte> q1 = Vector128.LoadUnsafe(in b.Qs[32 * n + 16]);
                for (int s = 0; s < 4; s++)
                {
                    int k = 8 * n + 2 * s;
                    int bit = 4 * n + s;
                    ref float ys = ref Unsafe.Add(ref yb, 128 * n + 32 * s);
                    Vector128<byte> c0 = (Vector128.ShiftRightLogical(q0, 2 * s) & three) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h0, bit) & one, 2);
                    Vector128<byte> c1 = (Vector128.ShiftRightLogical(q1, 2 * s) & three) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h1, bit) & one, 2);
                    Block32.Values16(c0.AsSByte(), new ScaleValueOp(4, dAll * BlockQ3_K.GetScale(scales, k)), ref ys);
                    Block32.Values16(c1.AsSByte(), new ScaleValueOp(4, dAll * BlockQ3_K.GetScale(scales, k + 1)), ref Unsafe.Add(ref ys, 16));
                }
            }
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q3_KReference.Dequantize(source, destination);
}
