using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q3_K kernels, identical in bytes and floats to <see cref="Q3_KReference"/>.</summary>
internal sealed class Q3_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q3_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q3_KReference.QuantizeRow(x, destination, importance);

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
