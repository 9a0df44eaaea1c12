using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ3_S kernels: the reference quantizer, and a vector dequantizer identical in floats to <see cref="IQ3_SReference"/>.</summary>
internal readonly struct IQ3_SKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ3_S;

    /// <remarks>The grid search is scalar: its neighbour lists differ in length per quadruple.</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ3_SReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ3_S> x = MemoryMarshal.Cast<byte, BlockIQ3_S>(source);
        ref uint grid = ref MemoryMarshal.GetArrayDataReference(Iq3Grids.SValues);
        ref float y = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                float db = d * (1 + 2 * x[i].Scale(ib));
                for (int g = 0; g < 8; g += 4)
                {
                    Vector128<byte> magnitudes = Vector128.Create(
                        Unsafe.Add(ref grid, x[i].GridIndex(ib, g)), Unsafe.Add(ref grid, x[i].GridIndex(ib, g + 1)),
                        Unsafe.Add(ref grid, x[i].GridIndex(ib, g + 2)), Unsafe.Add(ref grid, x[i].GridIndex(ib, g + 3))).AsByte();
                    int signs = x[i].Signs[4 * ib + g / 2] | (x[i].Signs[4 * ib + g / 2 + 1] << 8);
                    Iq3Dequantize.Values16(magnitudes, signs, db, ref Unsafe.Add(ref y, i * IQ3_SReference.SuperBlockSize + 32 * ib + 4 * g));
                }
            }
        }
    }
}
