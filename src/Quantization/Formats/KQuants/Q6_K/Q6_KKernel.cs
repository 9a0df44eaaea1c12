using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q6_K kernels, identical in bytes and floats to <see cref="Q6_KReference"/>.</summary>
internal readonly struct Q6_KKernel : IFastKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.Q6_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<Q6_KKernel>(x, destination, importance))
        {
            Q6_KReference.QuantizeRow(x, destination, importance);
        }
    }

    /// <summary>
    /// The 16 sub-block searches run lane-parallel (Count sub-blocks per vector, each lane replaying make_qx_quants
    /// exactly); the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        Span<BlockQ6_K> y = MemoryMarshal.Cast<byte, BlockQ6_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> lt = stackalloc float[256];
        Span<float> scales = stackalloc float[16];
        Span<float> scratch = stackalloc float[256];
        Span<sbyte> L = stackalloc sbyte[256];
        for (int i = 0; i < x.Length / 256; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * 256, 256);
            for (int g = 0; g < 16; g += c)
            {
                LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                if (importance.IsEmpty)
                {
                    ElementWise.Squares(xt[..(16 * c)], wt); // rmse_type 1's default weight, x·x in any layout
                }
                else
                {
                    LaneSearch.Transpose16(importance.Slice(i * 256 + 16 * g, 16 * c), c, wt); // the raw imatrix, no sigma2 term
                }

                TVec s = LaneSearch.MakeQxQuants<TVec>(16, 32, in xt[0], in wt[0], ref lt[16 * g], ref scratch[0]);
                TVec.Store(s, ref scales[g]);
            }

            FinishBlockVector(xb, scales, L, lt, c, ref y[i]);
        }
    }

    /// <summary>
    /// <see cref="Q6_KReference.FinishBlock"/>: each sub-block requantized with its final scale (a sub-block with
    /// d == 0 keeps its first-pass codes, read from the search's lane layout <paramref name="firstPass"/>), then the
    /// packing 16 codes per step.
    /// </summary>
    private static void FinishBlockVector(ReadOnlySpan<float> xb, ReadOnlySpan<float> scales, Span<sbyte> L, ReadOnlySpan<float> firstPass, int lanes,
                                          ref BlockQ6_K b)
    {
        if (!Q6_KReference.EncodeScales(scales, ref b))
        {
            return;
        }

        float dAll = Fp16.ToSingle(b.D);
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(L));
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * b.Scales[j];
            if (d == 0)
            {
                SubBlockCodes.FirstPass(firstPass, lanes, j, MemoryMarshal.AsBytes(L.Slice(16 * j, 16)));
            }
            else
            {
                SubBlockCodes.Requantize16(ref Unsafe.Add(ref xr, 16 * j), d, 0, hasMin: false, offset: 32, top: 63, ref Unsafe.Add(ref lr, 16 * j));
            }
        }

        Vector128<byte> nibble = Vector128.Create((byte)0x0F);
        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; l += 16)
            {
                Vector128<byte> c1 = Vector128.LoadUnsafe(ref lr, (nuint)(j + l));
                Vector128<byte> c2 = Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 32));
                Vector128<byte> c3 = Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 64));
                Vector128<byte> c4 = Vector128.LoadUnsafe(ref lr, (nuint)(j + l + 96));
                ((c1 & nibble) | Vector128.ShiftLeft(c3 & nibble, 4)).StoreUnsafe(ref b.Ql[j / 2 + l]);
                ((c2 & nibble) | Vector128.ShiftLeft(c4 & nibble, 4)).StoreUnsafe(ref b.Ql[j / 2 + l + 32]);
                (Vector128.ShiftRightLogical(c1, 4) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(c2, 4), 2)
                    | Vector128.ShiftLeft(Vector128.ShiftRightLogical(c3, 4), 4) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(c4, 4), 6))
                    .StoreUnsafe(ref b.Qh[j / 4 + l]);
            }
        }
    }

    /// <summary>16 values per step: nibble plus bit pair gives q + 32 (0..63), then (q + 32 − 32)·(d·sc).</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ6_K> x = MemoryMarshal.Cast<byte, BlockQ6_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        Vector128<byte> lowNibble = Vector128.Create((byte)0x0F);
        Vector128<byte> pair = Vector128.Create((byte)0x30);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ6_K b = ref x[i];
            float d = Fp16.ToSingle(b.D);
            ref float yb = ref Unsafe.Add(ref yr, i * 256);
            for (int n = 0; n < 2; n++)
            {
                for (int c = 0; c < 2; c++)
                {
                    Vector128<byte> qlA = Vector128.LoadUnsafe(in b.Ql[64 * n + 16 * c]);
                    Vector128<byte> qlB = Vector128.LoadUnsafe(in b.Ql[64 * n + 32 + 16 * c]);
                    Vector128<byte> qh = Vector128.LoadUnsafe(in b.Qh[32 * n + 16 * c]);
                    Vector128<byte> c0 = (qlA & lowNibble) | (Vector128.ShiftLeft(qh, 4) & pair);
                    Vector128<byte> c1 = (qlB & lowNibble) | (Vector128.ShiftLeft(qh, 2) & pair);
                    Vector128<byte> c2 = Vector128.ShiftRightLogical(qlA, 4) | (qh & pair);
                    Vector128<byte> c3 = Vector128.ShiftRightLogical(qlB, 4) | (Vector128.ShiftRightLogical(qh, 2) & pair);
                    int k = 8 * n + c;
                    ref float yc = ref Unsafe.Add(ref yb, 128 * n + 16 * c);
                    Block32.Values16(c0.AsSByte(), new ScaleValueOp(32, d * b.Scales[k]), ref yc);
                    Block32.Values16(c1.AsSByte(), new ScaleValueOp(32, d * b.Scales[k + 2]), ref Unsafe.Add(ref yc, 32));
                    Block32.Values16(c2.AsSByte(), new ScaleValueOp(32, d * b.Scales[k + 4]), ref Unsafe.Add(ref yc, 64));
                    Block32.Values16(c3.AsSByte(), new ScaleValueOp(32, d * b.Scales[k + 6]), ref Unsafe.Add(ref yc, 96));
                }
            }
        }
    }
}
