using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q4_1 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q4_1Reference"/>.</summary>
internal sealed class Q4_1Kernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q4_1;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            if (!LegacyImportance.TryQuantizeRow<Q4_1Reference.ImportanceFormat>(x, destination, importance))
            {
                Q4_1Reference.QuantizeRow(x, destination, importance);
            }

            return;
        }


        Span<BlockQ4_1> y = MemoryMarshal.Cast<byte, BlockQ4_1>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / 32; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * 32);
            Block32.MinMax(ref xb, out float min, out float max);
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            y[i].M = Fp16.FromSingle(min);
            Block32.Codes(ref xb, new TruncateCodeOp(min, id, 0.5f, 15), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y[i].Qs[0]);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q4_1Reference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ4_1> x = MemoryMarshal.Cast<byte, BlockQ4_1>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            var op = new AffineValueOp(Fp16.ToSingle(x[i].D), Fp16.ToSingle(x[i].M));
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x[i].Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16(lo.AsSByte(), op, ref Unsafe.Add(ref yr, i * 32));
            Block32.Values16(hi.AsSByte(), op, ref Unsafe.Add(ref yr, i * 32 + 16));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q4_1Reference.Dequantize(source, destination);
}
