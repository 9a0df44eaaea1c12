using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q2_K kernels, identical in bytes and floats to <see cref="Q2_KReference"/>.</summary>
internal sealed class Q2_KKernel : IQuantKernel, ILaneQuantizer
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
    /// make_qkx3_quants with it; each lane replays the scalar sequence exactly); the per-block tail is the reference's own code.
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
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            if (importance.IsEmpty)
            {
                for (int j = 0; j < 256; ++j)
                {
                    w[j] = MathF.Abs(xb[j]);
                }

                for (int g = 0; g < 16; g += c)
                {
                    LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    TVec s = LaneSearch.MakeQkx2MadQuants(16, 3, in xt[0], in wt[0], ref lt[0], ref laux[0], -0.5f, 0.1f, 15, out TVec theMin);
                    TVec.Store(s, ref scales[g]);
                    TVec.Store(theMin, ref mins[g]);
                    LaneSearch.Untranspose16(lt, c, L.Slice(16 * g, 16 * c));
                }

                Q2_KReference.FinishReferenceBlock(xb, scales, mins, L, ref y[i]);
                continue;
            }

            float sumx2 = 0;
            for (int j = 0; j < 256; ++j)
            {
                sumx2 += xb[j] * xb[j];
            }

            QuantSearch.ImportanceWeights(xb, importance.Slice(256 * i, 256), sumx2 / 256, w);
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
                TVec s = LaneSearch.MakeQkx3Quants(16, 3, in xt[0], in wt[0], ref lt[0], ref laux[0], -0.9f, 0.05f, 36, out TVec theMin);
                TVec.Store(s, ref scales[g]);
                TVec.Store(theMin, ref mins[g]);
                LaneSearch.Untranspose16(lt, c, L.Slice(16 * g, 16 * c));
            }

            Q2_KReference.FinishImportanceBlock(xb, scales, mins, sw, L, ref y[i]);
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
