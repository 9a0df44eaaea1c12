using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Vector dequantization of IQ1_S and IQ1_M: w = dl·(grid + delta) per group of 8, the reference's add then multiply
/// per value (so the floats are the same bits).
/// </summary>
internal static class Iq1Dequantize
{
    public static void RowS(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ1_S> x = MemoryMarshal.Cast<byte, BlockIQ1_S>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        ref float y = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 8; ++ib)
            {
                int qh = x[i].Qh(ib);
                float dl = d * (2 * ((qh >> 12) & 7) + 1);
                float delta = (qh & 0x8000) != 0 ? -IQ1_SReference.Delta : IQ1_SReference.Delta;
                for (int l = 0; l < 4; ++l)
                {
                    Group(grid[x[i].GridIndex(4 * ib + l)], dl, delta, ref Unsafe.Add(ref y, 256 * i + 32 * ib + 8 * l));
                }
            }
        }
    }

    public static void RowM(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ1_M> x = MemoryMarshal.Cast<byte, BlockIQ1_M>(source);
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        ref float y = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < 16; ++ib)
            {
                float dl = d * (2 * x[i].BlockScale(ib) + 1);
                for (int k = 0; k < 2; ++k)
                {
                    int g = 2 * ib + k;
                    float delta = x[i].NegativeShift(g) ? -IQ1_SReference.Delta : IQ1_SReference.Delta;
                    Group(grid[x[i].GridIndex(g)], dl, delta, ref Unsafe.Add(ref y, 256 * i + 8 * g));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group(ulong point, float dl, float delta, ref float y)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> g = Vector256.ConvertToSingle(Vector256.WidenLower(Vector256.WidenLower(Vector256.CreateScalar(point).AsSByte())));
            (Vector256.Create(dl) * (g + Vector256.Create(delta))).StoreUnsafe(ref y);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<short> g16 = Vector128.WidenLower(Vector128.CreateScalar(point).AsSByte());
            Vector128<float> vdl = Vector128.Create(dl), vdelta = Vector128.Create(delta);
            (vdl * (Vector128.ConvertToSingle(Vector128.WidenLower(g16)) + vdelta)).StoreUnsafe(ref y);
            (vdl * (Vector128.ConvertToSingle(Vector128.WidenUpper(g16)) + vdelta)).StoreUnsafe(ref y, 4);
        }
        else
        {
            for (int j = 0; j < 8; ++j)
            {
                Unsafe.Add(ref y, j) = dl * ((sbyte)(point >> (8 * j)) + delta);
            }
        }
    }
}
