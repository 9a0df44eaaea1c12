using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// I8_S kernels, identical in bytes and floats to <see cref="I8_SReference"/>; <see cref="Scale"/> and <see cref="Codes"/>
/// are also <see cref="Ternary.BitNetQuantizer.QuantizeActivations"/>'s per-row steps.
/// </summary>
internal sealed class I8_SKernel : ITensorQuantKernel
{
    public static QuantType Type => QuantType.I8_S;

    /// <summary>s = (float)(127 / max(1e-5, max|x|)); the float maximum converts to double exactly, so it is found in float lanes.</summary>
    public static float Scale(ReadOnlySpan<float> x)
    {
        double max = x.IsEmpty ? I8_SReference.MinMagnitude : Math.Max(I8_SReference.MinMagnitude, Math.Abs((double)TensorPrimitives.MaxMagnitude(x)));
        return (float)(127.0 / max);
    }

    /// <summary>
    /// Writes the codes of <paramref name="x"/> at scale <paramref name="s"/> into <paramref name="q"/> (or only counts
    /// them when <paramref name="q"/> is empty) and returns their sum.
    /// </summary>
    public static int Codes(ReadOnlySpan<float> x, float s, Span<sbyte> q)
    {
        // With s from Scale, |x·s| ≤ 127·(1 + 2⁻²³), so nearest_int never leaves [−127, 127]: NearestCodeOp's min with 127
        // is the only clamp kept in the lanes (it changes nothing either). The scalar tail keeps the reference's clamp.
        var op = new NearestCodeOp(s, 127);
        bool store = !q.IsEmpty;
        int sum = 0;
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref sbyte qr = ref MemoryMarshal.GetReference(q);
            for (; i <= x.Length - Block32.Size; i += Block32.Size)
            {
                Block32.Codes(ref Unsafe.Add(ref xr, i), op, out Vector128<byte> lo, out Vector128<byte> hi);
                if (store)
                {
                    lo.AsSByte().StoreUnsafe(ref qr, (nuint)i);
                    hi.AsSByte().StoreUnsafe(ref qr, (nuint)(i + 16));
                }

                sum += Block32.Sum(lo) + Block32.Sum(hi);
            }
        }

        for (; i < x.Length; i++)
        {
            int v = I8_SReference.Code(x[i], s);
            sum += v;
            if (store)
            {
                q[i] = (sbyte)v;
            }
        }

        return sum;
    }

    public static void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer)
    {
        float s = Scale(tensor);
        I8_SReference.WriteTrailer(s, Codes(tensor, s, default), trailer);
    }

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer) =>
        Codes(x, I8_SReference.ReadScale(trailer), MemoryMarshal.Cast<byte, sbyte>(destination)[..x.Length]);

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer) =>
        I8_SReference.QuantizeRow(x, destination, trailer);

    /// <summary>Exact conversions and one IEEE division per value: the reference's floats in any lane width.</summary>
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> trailer, Span<float> destination)
    {
        Span<float> y = destination[..codes.Length];
        TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<byte, sbyte>(codes), y);
        TensorPrimitives.Divide(y, I8_SReference.ReadScale(trailer), y);
    }

    public static void DequantizeReference(ReadOnlySpan<byte> codes, ReadOnlySpan<byte> trailer, Span<float> destination) =>
        I8_SReference.Dequantize(codes, trailer, destination);
}
