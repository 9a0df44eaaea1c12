using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q2_K kernels, identical in bytes and floats to <see cref="Q2_KReference"/>.</summary>
internal readonly struct Q2_KKernel : IQuantKernel, ILaneQuantizer
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
    /// The 16 sub-block searches run lane-parallel (make_qkx2_quants with |x| weights without importance,
    /// make_qkx3_quants with it; each lane replays the scalar sequence exactly); the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        Span<BlockQ2_K> y = MemoryMarshal.Cast<byte, BlockQ2_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> lt = stackalloc float[256];
        Span<float> laux = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> scales = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> sw = stackalloc float[16];
        Span<byte> L = stackalloc byte[256];
        Span<byte> ls = stackalloc byte[16];
        Span<byte> lm = stackalloc byte[16];
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            if (importance.IsEmpty)
            {
                ElementWise.Abs(xb, w);

                for (int g = 0; g < 16; g += c)
                {
                    LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    TVec s = LaneSearch.MakeQkx2MadQuants(16, 3, in xt[0], in wt[0], ref lt[16 * g], ref laux[0], -0.5f, 0.1f, 15, out TVec theMin);
                    TVec.Store(s, ref scales[g]);
                    TVec.Store(theMin, ref mins[g]);
                }

                Q2_KReference.EncodeScales(scales, mins, ref y[i]);
                RequantizeAndPack(xb, ref y[i], L, lt, c);
                continue;
            }

            float sumx2 = 0;
            for (int j = 0; j < 256; ++j)
            {
                sumx2 += xb[j] * xb[j];
            }

            ElementWise.ImportanceWeights(xb, importance.Slice(256 * i, 256), sumx2 / 256, w);
            for (int j = 0; j < 16; ++j)
            {
                float sumw = 0;
                for (int l = 0; l < 16; ++l)
                {
                    sumw += w[16 * j + l];
                }

                sw[j] = sumw;
            }

            for (int g = 0; g < 16; g += c)
            {
                LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                TVec s = LaneSearch.MakeQkx3Quants(16, 3, in xt[0], in wt[0], ref lt[16 * g], ref laux[0], -0.9f, 0.05f, 36, out TVec theMin);
                TVec.Store(s, ref scales[g]);
                TVec.Store(theMin, ref mins[g]);
            }

            // The reference's scale step (FinishImportanceBlock), verbatim.
            float dm = QuantSearch.MakeQpQuants(16, 15, scales, ls, sw);
            float mm = QuantSearch.MakeQpQuants(16, 15, mins, lm, sw);
            ref BlockQ2_K b = ref y[i];
            b.D = Fp16.FromSingle(dm);
            b.Dmin = Fp16.FromSingle(mm);
            for (int j = 0; j < 16; ++j)
            {
                b.Scales[j] = (byte)(ls[j] | (lm[j] << 4));
            }

            RequantizeAndPack(xb, ref b, L, lt, c);
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
                SubBlockCodes.FirstPass16(firstPass, lanes, j, L.Slice(16 * j, 16));
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


    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q2_KReference.QuantizeRow(x, destination, importance);

    /// <summary>16 values per step: the 2-bit codes of one sub-block widened to floats, dl·q − ml.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Vector128.IsHardwareAccelerated)
        {
            Q2_KReference.Dequantize(source, destination);
            return;
        }

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

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q2_KReference.Dequantize(source, destination);
}

/// <summary>dl·q − ml, multiply then subtract (a true subtraction: adding −ml would flip the sign of a NaN ml).</summary>
internal readonly struct Q2_KValueOp(float dl, float ml) : IValueOp
{
    public Vector128<float> Invoke(Vector128<int> q) => Vector128.Create(dl) * Vector128.ConvertToSingle(q) - Vector128.Create(ml);

    public Vector256<float> Invoke(Vector256<int> q) => Vector256.Create(dl) * Vector256.ConvertToSingle(q) - Vector256.Create(ml);

    public Vector512<float> Invoke(Vector512<int> q) => Vector512.Create(dl) * Vector512.ConvertToSingle(q) - Vector512.Create(ml);
}
