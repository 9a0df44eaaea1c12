using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>I2_S kernels: 32 codes per vector step over <see cref="Block32"/>, identical in bytes and floats to <see cref="I2_SReference"/>.</summary>
internal sealed class I2_SKernel : ITensorQuantKernel
{
    public static QuantType Type => QuantType.I2_S;

    public static void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer) =>
        I2_SReference.WriteTrailer(tensor.IsEmpty ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(tensor)), trailer);

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer)
    {
        var op = new I2_SCodeOp(I2_SReference.ReadScale(trailer));
        Span<BlockI2_S> y = MemoryMarshal.Cast<byte, BlockI2_S>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / I2_SReference.BlockSize; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * I2_SReference.BlockSize);
            Block32.Codes(ref xb, op, out Vector128<byte> l0, out Vector128<byte> h0);
            Block32.Codes(ref Unsafe.Add(ref xb, 32), op, out Vector128<byte> l1, out Vector128<byte> h1);
            Block32.Codes(ref Unsafe.Add(ref xb, 64), op, out Vector128<byte> l2, out Vector128<byte> h2);
            Block32.Codes(ref Unsafe.Add(ref xb, 96), op, out Vector128<byte> l3, out Vector128<byte> h3);
            ref byte qs = ref y[i].Qs[0];
            // Most significant pair first: the reverse of TQ2_0's order.
            TernaryBlocks.Pack2Bit(l3, l2, l1, l0).StoreUnsafe(ref qs);
            TernaryBlocks.Pack2Bit(h3, h2, h1, h0).StoreUnsafe(ref qs, 16);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<byte> trailer) =>
        I2_SReference.QuantizeRow(x, destination, trailer);

    public static void Dequantize(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination)
    {
        var op = new ScaleValueOp(0, I2_SReference.ReadScale(trailer));
        Vector128<sbyte> values = Vector128.Create((sbyte)-1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        Vector128<byte> three = Vector128.Create((byte)3);
        ReadOnlySpan<BlockI2_S> x = MemoryMarshal.Cast<byte, BlockI2_S>(blocks);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            ref float yb = ref Unsafe.Add(ref yr, i * I2_SReference.BlockSize);
            for (int h = 0; h < 2; h++)
            {
                Vector128<byte> b = Vector128.LoadUnsafe(in x[i].Qs[0], (nuint)(16 * h));
                for (int g = 0; g < 4; g++)
                {
                    Vector128<byte> code = Vector128.ShiftRightLogical(b, 6 - 2 * g) & three;
                    Block32.Values16(Vector128.Shuffle(values, code.AsSByte()), op, ref Unsafe.Add(ref yb, 32 * g + 16 * h));
                }
            }
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination) =>
        I2_SReference.Dequantize(blocks, trailer, destination);
}

/// <summary>
/// <see cref="I2_SReference.Code"/> in every vector width. x·scale &gt; 0 in double is exact for floats (a float product
/// neither rounds to zero nor overflows in double), so it is a sign test: x &gt; 0 for a positive scale, x &lt; 0 for a
/// negative one, never for a zero or NaN scale. |x| &lt; 10⁻⁶ in double is |x| &lt; <see cref="Threshold"/> in float.
/// </summary>
internal readonly struct I2_SCodeOp(float scale) : ICodeOp
{
    /// <summary>The least float not below 10⁻⁶ (double): for a float a, (double)a &lt; 1e-6 exactly when a &lt; Threshold.</summary>
    public static readonly float Threshold = (double)(float)1e-6 >= 1e-6 ? (float)1e-6 : MathF.BitIncrement((float)1e-6);

    // +1: the code of x > 0 is 2; −1: the code of x < 0 is 2; 0: no value gets 2.
    private readonly float _sign = scale > 0 ? 1f : scale < 0 ? -1f : 0f;

    public int Invoke(float x) => I2_SReference.Code(x, scale);

    public Vector128<int> Invoke(Vector128<float> x)
    {
        Vector128<int> nonzero = Vector128.GreaterThanOrEqual(Vector128.Abs(x), Vector128.Create(Threshold)).AsInt32();
        Vector128<int> two = Vector128.GreaterThan(x * Vector128.Create(_sign), Vector128<float>.Zero).AsInt32();
        return Vector128<int>.One + (nonzero & (Vector128<int>.AllBitsSet - two - two)); // 1, or 1 − 1, or 1 + 1
    }

    public Vector256<int> Invoke(Vector256<float> x)
    {
        Vector256<int> nonzero = Vector256.GreaterThanOrEqual(Vector256.Abs(x), Vector256.Create(Threshold)).AsInt32();
        Vector256<int> two = Vector256.GreaterThan(x * Vector256.Create(_sign), Vector256<float>.Zero).AsInt32();
        return Vector256<int>.One + (nonzero & (Vector256<int>.AllBitsSet - two - two));
    }

    public Vector512<int> Invoke(Vector512<float> x)
    {
        Vector512<int> nonzero = Vector512.GreaterThanOrEqual(Vector512.Abs(x), Vector512.Create(Threshold)).AsInt32();
        Vector512<int> two = Vector512.GreaterThan(x * Vector512.Create(_sign), Vector512<float>.Zero).AsInt32();
        return Vector512<int>.One + (nonzero & (Vector512<int>.AllBitsSet - two - two));
    }
}
