using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// MXFP4 kernels, identical in bytes and floats to <see cref="MXFP4Reference"/>. The quantizer is element-wise: the block
/// exponent from the block's max |x|, then <see cref="E2M1.BestIndex{TVec}"/> in every lane.
/// </summary>
internal readonly struct MXFP4Kernel : IQuantKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.MXFP4;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<MXFP4Kernel>(x, destination, importance))
        {
            MXFP4Reference.QuantizeRow(x, destination);
        }
    }

    [SkipLocalsInit]
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        Span<BlockMXFP4> y = MemoryMarshal.Cast<byte, BlockMXFP4>(destination);
        Span<float> codes = stackalloc float[BlockMXFP4.Values];
        ref float c = ref MemoryMarshal.GetReference(codes);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / BlockMXFP4.Values; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * BlockMXFP4.Values);
            byte e = E8M0.FromAmax(Block32.MaxAbs(ref xb));
            TVec d = TVec.Create(E8M0.ToSingleHalf(e));
            for (int j = 0; j < BlockMXFP4.Values; j += TVec.Count)
            {
                TVec.Store(E2M1.BestIndex(TVec.Load(in Unsafe.Add(ref xb, j)), d), ref Unsafe.Add(ref c, j));
            }

            y[i].E = e;
            for (int j = 0; j < 16; j++)
            {
                y[i].Qs[j] = (byte)((int)codes[j] | ((int)codes[j + 16] << 4));
            }
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        MXFP4Reference.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockMXFP4> x = MemoryMarshal.Cast<byte, BlockMXFP4>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            // values[q]·d, as ggml's x0*d (a single product, commutative to the bit).
            var op = new ScaleValueOp(0, E8M0.ToSingleHalf(x[i].E));
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x[i].Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16(E2M1.Lookup(lo), op, ref Unsafe.Add(ref yr, i * 32));
            Block32.Values16(E2M1.Lookup(hi), op, ref Unsafe.Add(ref yr, i * 32 + 16));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        MXFP4Reference.Dequantize(source, destination);
}
