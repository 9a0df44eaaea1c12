using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Q1_0 kernels, identical in bytes and floats to <see cref="Q1_0Reference"/>. The scale (a sum of 128 magnitudes in
/// element order) stays scalar; the sign bits and the dequantized values are vector compares and selects.
/// </summary>
internal sealed class Q1_0Kernel : IFastKernel
{
    public static QuantType Type => QuantType.Q1_0;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ1_0> y = MemoryMarshal.Cast<byte, BlockQ1_0>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < y.Length; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * BlockQ1_0.Values);
            float sumAbs = 0.0f;
            for (int j = 0; j < BlockQ1_0.Values; j++)
            {
                sumAbs += MathF.Abs(Unsafe.Add(ref xb, j));
            }

            y[i].D = Fp16.FromSingle(sumAbs / BlockQ1_0.Values);
            SignBits(ref xb, ref y[i].Qs[0]);
        }
    }

    /// <summary>Bit j of the 16 bytes at <paramref name="qs"/> set where x[j] ≥ 0 (−0 included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SignBits(ref float x, ref byte qs)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (int k = 0; k < 8; k++)
            {
                ushort bits = (ushort)Vector512.ExtractMostSignificantBits(Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref x, (nuint)(16 * k)), Vector512<float>.Zero));
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref qs, 2 * k), bits);
            }

            return;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (int k = 0; k < 16; k++)
            {
                Unsafe.Add(ref qs, k) = (byte)Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref x, (nuint)(8 * k)), Vector256<float>.Zero));
            }

            return;
        }

        for (int k = 0; k < 16; k++)
        {
            uint low = Vector128.ExtractMostSignificantBits(Vector128.GreaterThanOrEqual(Vector128.LoadUnsafe(ref x, (nuint)(8 * k)), Vector128<float>.Zero));
            uint high = Vector128.ExtractMostSignificantBits(Vector128.GreaterThanOrEqual(Vector128.LoadUnsafe(ref x, (nuint)(8 * k + 4)), Vector128<float>.Zero));
            Unsafe.Add(ref qs, k) = (byte)(low | (high << 4));
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ1_0> x = MemoryMarshal.Cast<byte, BlockQ1_0>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            ref byte qs = ref Unsafe.AsRef(in x[i].Qs[0]);
            ref float y = ref Unsafe.Add(ref yr, i * BlockQ1_0.Values);
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<int> select = Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
                Vector512<float> plus = Vector512.Create(d), minus = Vector512.Create(-d);
                for (int k = 0; k < 8; k++)
                {
                    Vector512<int> bits = Vector512.Create((int)Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref qs, 2 * k))) & select;
                    Vector512.ConditionalSelect(Vector512.Equals(bits, Vector512<int>.Zero).AsSingle(), minus, plus).StoreUnsafe(ref y, (nuint)(16 * k));
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<int> select = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
                Vector256<float> plus = Vector256.Create(d), minus = Vector256.Create(-d);
                for (int k = 0; k < 16; k++)
                {
                    Vector256<int> bits = Vector256.Create((int)Unsafe.Add(ref qs, k)) & select;
                    Vector256.ConditionalSelect(Vector256.Equals(bits, Vector256<int>.Zero).AsSingle(), minus, plus).StoreUnsafe(ref y, (nuint)(8 * k));
                }
            }
            else
            {
                Vector128<int> select = Vector128.Create(1, 2, 4, 8);
                Vector128<float> plus = Vector128.Create(d), minus = Vector128.Create(-d);
                for (int k = 0; k < 32; k++)
                {
                    Vector128<int> bits = Vector128.Create(Unsafe.Add(ref qs, k / 2) >> (k % 2 * 4)) & select;
                    Vector128.ConditionalSelect(Vector128.Equals(bits, Vector128<int>.Zero).AsSingle(), minus, plus).StoreUnsafe(ref y, (nuint)(4 * k));
                }
            }
        }
    }
}
