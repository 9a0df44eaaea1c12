using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ3_XXS kernels: the reference quantizer, and a vector dequantizer identical in floats to <see cref="IQ3_XXSReference"/>.</summary>
internal readonly struct IQ3_XXSKernel : IFastKernel
{
    public static QuantType Type => QuantType.IQ3_XXS;

    /// <remarks>The grid search is scalar: its neighbour lists differ in length per quadruple.</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        IQ3_XXSReference.QuantizeRow(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ3_XXS> x = MemoryMarshal.Cast<byte, BlockIQ3_XXS>(source);
        ReadOnlySpan<byte> signTable = IqSigns.Signs;
        ref uint grid = ref MemoryMarshal.GetArrayDataReference(Iq3Grids.XxsValues);
        ref float y = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                uint aux32 = x[i].Aux(ib);
                float db = d * (0.5f + (aux32 >> 28)) * 0.5f;
                for (int l = 0; l < 4; l += 2)
                {
                    int q = 8 * ib + 2 * l;
                    Vector128<byte> magnitudes = Vector128.Create(
                        Unsafe.Add(ref grid, x[i].Qs[q]), Unsafe.Add(ref grid, x[i].Qs[q + 1]),
                        Unsafe.Add(ref grid, x[i].Qs[q + 2]), Unsafe.Add(ref grid, x[i].Qs[q + 3])).AsByte();
                    int signs = signTable[(int)((aux32 >> (7 * l)) & 127)] | (signTable[(int)((aux32 >> (7 * l + 7)) & 127)] << 8);
                    Iq3Dequantize.Values16(magnitudes, signs, db, ref Unsafe.Add(ref y, i * IQ3_XXSReference.SuperBlockSize + 32 * ib + 8 * l));
                }
            }
        }
    }
}
