using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>F32 rows: a plain copy, as <c>ggml_quantize_chunk</c> does.</summary>
internal sealed class F32Kernel : Kernels.IQuantKernel
{
    public static QuantType Type => QuantType.F32;

    public static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance) =>
        row.CopyTo(MemoryMarshal.Cast<byte, float>(destination));

    public static void QuantizeRowReference(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance) =>
        QuantizeRow(row, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Dequantize(source, destination);
}

/// <summary>F16 rows through TensorPrimitives' vectorised IEEE conversions (round to nearest even, subnormals kept).</summary>
internal sealed class F16Kernel : Kernels.IQuantKernel
{
    public static QuantType Type => QuantType.F16;

    public static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance) =>
        TensorPrimitives.ConvertToHalf(row, MemoryMarshal.Cast<byte, Half>(destination));

    public static void QuantizeRowReference(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<ushort> y = MemoryMarshal.Cast<byte, ushort>(destination);
        for (int i = 0; i < row.Length; i++)
        {
            y[i] = Kernels.Fp16.FromSingle(row[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination) =>
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<ushort> x = MemoryMarshal.Cast<byte, ushort>(source);
        for (int i = 0; i < x.Length; i++)
        {
            destination[i] = Kernels.Fp16.ToSingle(x[i]);
        }
    }
}

/// <summary>
/// BF16 rows: ggml's <c>ggml_compute_fp32_to_bf16</c> (round to nearest even on the upper 16 bits; NaN made quiet)
/// and the exact widening back.
/// </summary>
internal sealed class BF16Kernel : Kernels.IQuantKernel
{
    public static QuantType Type => QuantType.BF16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFFFFFF) > 0x7F800000)
        {
            return (ushort)((u >> 16) | 64);
        }

        return (ushort)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
    }

    public static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<ushort> y = MemoryMarshal.Cast<byte, ushort>(destination);
        ref uint x = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(row));
        ref ushort yr = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            // Inputs are finite (Quantizer rejects NaN), so the NaN branch of the scalar rule never applies here.
            for (; i <= row.Length - 8; i += 8)
            {
                Vector128<uint> a = Vector128.LoadUnsafe(ref x, (nuint)i);
                Vector128<uint> b = Vector128.LoadUnsafe(ref x, (nuint)i + 4);
                a = (a + (Vector128.Create(0x7FFFu) + (Vector128.ShiftRightLogical(a, 16) & Vector128<uint>.One))) >>> 16;
                b = (b + (Vector128.Create(0x7FFFu) + (Vector128.ShiftRightLogical(b, 16) & Vector128<uint>.One))) >>> 16;
                Vector128.Narrow(a, b).StoreUnsafe(ref yr, (nuint)i);
            }
        }

        for (; i < row.Length; i++)
        {
            Unsafe.Add(ref yr, i) = FromSingle(row[i]);
        }
    }

    public static void QuantizeRowReference(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<ushort> y = MemoryMarshal.Cast<byte, ushort>(destination);
        for (int i = 0; i < row.Length; i++)
        {
            y[i] = FromSingle(row[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<ushort> x = MemoryMarshal.Cast<byte, ushort>(source);
        Span<uint> y = MemoryMarshal.Cast<float, uint>(destination);
        ref ushort xr = ref MemoryMarshal.GetReference(x);
        ref uint yr = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 8; i += 8)
            {
                Vector128<ushort> v = Vector128.LoadUnsafe(ref xr, (nuint)i);
                (Vector128.WidenLower(v) << 16).StoreUnsafe(ref yr, (nuint)i);
                (Vector128.WidenUpper(v) << 16).StoreUnsafe(ref yr, (nuint)i + 4);
            }
        }

        for (; i < x.Length; i++)
        {
            Unsafe.Add(ref yr, i) = (uint)Unsafe.Add(ref xr, i) << 16;
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<ushort> x = MemoryMarshal.Cast<byte, ushort>(source);
        for (int i = 0; i < x.Length; i++)
        {
            destination[i] = BitConverter.UInt32BitsToSingle((uint)x[i] << 16);
        }
    }
}
