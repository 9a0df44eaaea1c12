using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q2_K kernels, identical in bytes and floats to <see cref="Q2_KReference"/>.</summary>
internal sealed class Q2_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q2_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q2_KReference.QuantizeRow(x, destination, importance);

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
