using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q5_0 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q5_0Reference"/>.</summary>
internal sealed class Q5_0Kernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q5_0;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            if (!LegacyImportance.TryQuantizeRow<Q5_0Reference.ImportanceFormat>(x, destination, importance))
            {
                Q5_0Reference.QuantizeRow(x, destination, importance);
            }

            return;
        }


        Span<BlockQ5_0> y = MemoryMarshal.Cast<byte, BlockQ5_0>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / 32; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * 32);
            float max = Block32.SignedMaxAbs(ref xb, out _);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            Block32.Codes(ref xb, new TruncateCodeOp(0f, id, 16.5f, 31), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y[i].Qs[0]);
            y[i].Qh = Block32.HighBits(lo, hi);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q5_0Reference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ5_0> x = MemoryMarshal.Cast<byte, BlockQ5_0>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            var op = new ScaleValueOp(16, Fp16.ToSingle(x[i].D));
            uint qh = x[i].Qh;
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x[i].Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16((lo | Block32.SpreadBit4(qh)).AsSByte(), op, ref Unsafe.Add(ref yr, i * 32));
            Block32.Values16((hi | Block32.SpreadBit4(qh >> 16)).AsSByte(), op, ref Unsafe.Add(ref yr, i * 32 + 16));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q5_0Reference.Dequantize(source, destination);
}
