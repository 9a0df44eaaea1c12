using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_K kernels: the 256-value block handled as eight 32-value groups of <see cref="Block32"/>.</summary>
internal sealed class Q8_KKernel : IQuantKernel
{
    public static QuantType Type => QuantType.Q8_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / 256; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * 256);

            // The signed value of largest magnitude, first occurrence: first group holding the maximum wins.
            float amax = 0, max = 0;
            for (int g = 0; g < 8; g++)
            {
                float m = Block32.SignedMaxAbs(ref Unsafe.Add(ref xb, g * 32), out float ga);
                if (ga > amax)
                {
                    amax = ga;
                    max = m;
                }
            }

            if (amax == 0)
            {
                y[i] = default;
                continue;
            }

            float iscale = -127f / max;
            var op = new NearestCodeOp(iscale, 127);
            ref BlockQ8_K block = ref y[i];
            for (int g = 0; g < 8; g++)
            {
                Block32.Codes(ref Unsafe.Add(ref xb, g * 32), op, out Vector128<byte> lo, out Vector128<byte> hi);
                lo.AsSByte().StoreUnsafe(ref block.Qs[g * 32]);
                hi.AsSByte().StoreUnsafe(ref block.Qs[g * 32 + 16]);
                block.Bsums[2 * g] = (short)Block32.Sum(lo);
                block.Bsums[2 * g + 1] = (short)Block32.Sum(hi);
            }

            block.D = 1 / iscale;
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q8_KReference.QuantizeRow(x, destination);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ8_K> x = MemoryMarshal.Cast<byte, BlockQ8_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            var op = new ScaleValueOp(0, x[i].D);
            ref readonly sbyte qs = ref x[i].Qs[0];
            for (int j = 0; j < 256; j += 16)
            {
                Block32.Values16(Vector128.LoadUnsafe(in qs, (nuint)j), op, ref Unsafe.Add(ref yr, i * 256 + j));
            }
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q8_KReference.Dequantize(source, destination);
}
