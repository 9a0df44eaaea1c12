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
                    s = LaneSearch.MakeQ3Quants<TVec>(16, 4, in xt[0], ref lt[0]);
                }
                else
                {
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    s = LaneSearch.MakeQxQuants<TVec>(16, 4, in xt[0], in wt[0], ref lt[0]);
                }

                TVec.Store(s, ref scales[g]);
                LaneSearch.Untranspose16(lt, c, MemoryMarshal.AsBytes(L.Slice(16 * g, 16 * c)));
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

            FinishVector(xb, ref b, L);
        }
    }

    /// <summary>
    /// The reference's Finish, 4 values per step: x / d (exact IEEE division), nearest_int by the same bit trick,
    /// clamp to −4..3, + 4; a sub-block with d == 0 keeps its first-pass codes. Then hmask bits and low bit pairs
    /// 16 codes per step.
    /// </summary>
    private static void FinishVector(ReadOnlySpan<float> xb, ref BlockQ3_K b, Span<sbyte> L)
    {
        float dAll = Fp16.ToSingle(b.D);
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(L));
        Vector128<float> magic = Vector128.Create(12582912f);
        Vector128<int> mantissa = Vector128.Create(0x007FFFFF);
        Vector128<int> bias = Vector128.Create(0x00400000 - 4);
        Vector128<int> zero = Vector128<int>.Zero;
        Vector128<int> seven = Vector128.Create(7);
        ReadOnlySpan<byte> packed = b.Scales;
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * BlockQ3_K.GetScale(packed, j);
            if (d == 0)
            {
                continue;
            }

            Vector128<float> dv = Vector128.Create(d);
            ref float xs = ref Unsafe.Add(ref xr, 16 * j);
            // nearest_int(v) + 4 = (bits(v + magic) & mantissa) − (0x400000 − 4); clamp to 0..7.
            Vector128<int> q0 = Vector128.Min(Vector128.Max((Vector128.LoadUnsafe(ref xs) / dv + magic).AsInt32() & mantissa, bias) - bias, seven);
            Vector128<int> q1 = Vector128.Min(Vector128.Max((Vector128.LoadUnsafe(ref xs, 4) / dv + magic).AsInt32() & mantissa, bias) - bias, seven);
            Vector128<int> q2 = Vector128.Min(Vector128.Max((Vector128.LoadUnsafe(ref xs, 8) / dv + magic).AsInt32() & mantissa, bias) - bias, seven);
            Vector128<int> q3 = Vector128.Min(Vector128.Max((Vector128.LoadUnsafe(ref xs, 12) / dv + magic).AsInt32() & mantissa, bias) - bias, seven);
            Vector128.Narrow(Vector128.Narrow(q0, q1), Vector128.Narrow(q2, q3)).AsByte().StoreUnsafe(ref lr, (nuint)(16 * j));
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
