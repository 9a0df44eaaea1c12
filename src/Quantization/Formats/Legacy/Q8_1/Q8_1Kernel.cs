using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_1 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q8_1Reference"/>.</summary>
internal sealed class Q8_1Kernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q8_1;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ8_1> y = MemoryMarshal.Cast<byte, BlockQ8_1>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / 32; i++)
        {
            float d = Block32.QuantizeQ8(ref Unsafe.Add(ref xr, i * 32), ref y[i].Qs[0], out Vector128<byte> lo, out Vector128<byte> hi);
            y[i].D = Fp16.FromSingle(d);
            y[i].S = Fp16.FromSingle((Block32.Sum(lo) + Block32.Sum(hi)) * d);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q8_1Reference.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ8_1> x = MemoryMarshal.Cast<byte, BlockQ8_1>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            Block32.DequantizeQ8(in x[i].Qs[0], Fp16.ToSingle(x[i].D), ref Unsafe.Add(ref yr, i * 32));
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q8_1Reference.Dequantize(source, destination);
}
