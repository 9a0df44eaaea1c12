using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// NVFP4 kernels, identical in bytes and floats to <see cref="NVFP4Reference"/>. The quantizer is element-wise: each
/// sub-block's UE4M3 scale from its max |x|, then <see cref="E2M1.BestIndex{TVec}"/> in every lane.
/// </summary>
internal readonly struct NVFP4Kernel : IQuantKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.NVFP4;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<NVFP4Kernel>(x, destination, importance))
        {
            NVFP4Reference.QuantizeRow(x, destination);
        }
    }

    [SkipLocalsInit]
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        const int qkSub = BlockNVFP4.SubBlockValues;
        Span<BlockNVFP4> y = MemoryMarshal.Cast<byte, BlockNVFP4>(destination);
        Span<float> codes = stackalloc float[qkSub];
        ref float c = ref MemoryMarshal.GetReference(codes);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / BlockNVFP4.Values; i++)
        {
            for (int s = 0; s < BlockNVFP4.SubBlocks; s++)
            {
                ref float xb = ref Unsafe.Add(ref xr, i * BlockNVFP4.Values + s * qkSub);
                TVec m = TVec.Abs(TVec.Load(in xb));
                for (int j = TVec.Count; j < qkSub; j += TVec.Count)
                {
                    m = TVec.Max(m, TVec.Abs(TVec.Load(in Unsafe.Add(ref xb, j))));
                }

                TVec.Store(m, ref c);
                float amax = 0.0f; // max is exact in any order for the finite values the façade admits
                for (int j = 0; j < TVec.Count; j++)
                {
                    amax = MathF.Max(amax, Unsafe.Add(ref c, j));
                }

                byte ue = UE4M3.FromSingle(amax / 6.0f);
                TVec d = TVec.Create(UE4M3.ToSingle(ue));
                for (int j = 0; j < qkSub; j += TVec.Count)
                {
                    TVec.Store(E2M1.BestIndex(TVec.Load(in Unsafe.Add(ref xb, j)), d), ref Unsafe.Add(ref c, j));
                }

                y[i].D[s] = ue;
                for (int j = 0; j < qkSub / 2; j++)
                {
                    y[i].Qs[s * (qkSub / 2) + j] = (byte)((int)codes[j] | ((int)codes[j + qkSub / 2] << 4));
                }
            }
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        NVFP4Reference.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockNVFP4> x = MemoryMarshal.Cast<byte, BlockNVFP4>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            ref float yb = ref Unsafe.Add(ref yr, i * BlockNVFP4.Values);
            for (int h = 0; h < 2; h++)
            {
                // Sub-blocks 2h and 2h + 1 from 16 code bytes; values[q]·d as ggml's v0*d (a single product).
                SubBlockCodes(Vector128.LoadUnsafe(in x[i].Qs[16 * h]), out Vector128<byte> first, out Vector128<byte> second);
                Block32.Values16(E2M1.Lookup(first), new ScaleValueOp(0, UE4M3.ToSingle(x[i].D[2 * h])), ref Unsafe.Add(ref yb, 32 * h));
                Block32.Values16(E2M1.Lookup(second), new ScaleValueOp(0, UE4M3.ToSingle(x[i].D[2 * h + 1])), ref Unsafe.Add(ref yb, 32 * h + 16));
            }
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        NVFP4Reference.Dequantize(source, destination);

    /// <summary>
    /// The codes of two consecutive sub-blocks from their 16 packed bytes, each in element order: low nibbles of bytes
    /// 0..7 then their high nibbles (the first sub-block), the same for bytes 8..15 (the second).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SubBlockCodes(Vector128<byte> packed, out Vector128<byte> first, out Vector128<byte> second)
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        Vector128<ulong> lo = (packed & mask).AsUInt64();
        Vector128<ulong> hi = (Vector128.ShiftRightLogical(packed, 4) & mask).AsUInt64();
        if (Sse2.IsSupported)
        {
            first = Sse2.UnpackLow(lo, hi).AsByte();
            second = Sse2.UnpackHigh(lo, hi).AsByte();
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            first = AdvSimd.Arm64.ZipLow(lo, hi).AsByte();
            second = AdvSimd.Arm64.ZipHigh(lo, hi).AsByte();
        }
        else
        {
            first = Vector128.Create(lo.GetElement(0), hi.GetElement(0)).AsByte();
            second = Vector128.Create(lo.GetElement(1), hi.GetElement(1)).AsByte();
        }
    }
}
