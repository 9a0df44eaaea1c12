using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// IQ3_S × Q8_K (<c>ggml_vec_dot_iq3_s_q8_K</c>): per super-block Σ_ib (2s_ib + 1)·Σ ±grid·q8 is exact in int32,
/// scaled by d·d8.
/// </summary>
internal readonly struct IQ3_SDot : IKScaledBlocks<IQ3_SDot, BlockIQ3_S>
{
    public static QuantType WeightType => QuantType.IQ3_S;

    public static int BlockBytes => BlockIQ3_S.Size;

    /// <summary>ggml's generic kernel: one int32 sum per super-block, (d·d8)·sum into a float.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockIQ3_S.Size, weights, activations);
        ReadOnlySpan<BlockIQ3_S> x = MemoryMarshal.Cast<byte, BlockIQ3_S>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            float d = Fp16.ToSingle(x[i].D) * y[i].D;
            sumf += d * SuperBlockSum(in x[i], in y[i]);
        }

        return sumf;
    }

    /// <summary>The generic kernel's integer sum of one super-block.</summary>
    public static int SuperBlockSum(in BlockIQ3_S x, in BlockQ8_K y)
    {
        ReadOnlySpan<byte> mask = IqSigns.Mask;
        uint[] grid = Iq3Grids.SValues;
        int bsum = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            int ls = 2 * x.Scale(ib) + 1;
            int sumi = 0;
            for (int l = 0; l < 4; ++l)
            {
                uint grid1 = grid[x.GridIndex(ib, 2 * l)];
                uint grid2 = grid[x.GridIndex(ib, 2 * l + 1)];
                byte signs = x.Signs[4 * ib + l];
                int o = 32 * ib + 8 * l;
                for (int j = 0; j < 4; ++j)
                {
                    sumi += (byte)(grid1 >> (8 * j)) * y.Qs[o + j] * ((signs & mask[j]) != 0 ? -1 : 1);
                    sumi += (byte)(grid2 >> (8 * j)) * y.Qs[o + j + 4] * ((signs & mask[j + 4]) != 0 ? -1 : 1);
                }
            }

            bsum += sumi * ls;
        }

        return bsum;
    }

    public static ushort D(in BlockIQ3_S x) => x.D;

    /// <summary>
    /// The 32 magnitudes of a sub-block: eight grid indices from the bytes at <paramref name="qs"/> and the bits of
    /// <paramref name="qh"/> (bit g moved to bit 8 of index g), eight scalar loads (a <c>vpgatherdd</c> was measured slower
    /// on AMD Zen 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Magnitudes256(byte* qs, uint qh, uint* grid) =>
        Vector256.Create(
            grid[qs[0] | ((qh << 8) & 256)], grid[qs[1] | ((qh << 7) & 256)], grid[qs[2] | ((qh << 6) & 256)], grid[qs[3] | ((qh << 5) & 256)],
            grid[qs[4] | ((qh << 4) & 256)], grid[qs[5] | ((qh << 3) & 256)], grid[qs[6] | ((qh << 2) & 256)], grid[qs[7] | ((qh << 1) & 256)]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ3_S* x, BlockQ8_K* y)
    {
        byte* qs = (byte*)&x->Qs;
        byte* qh = (byte*)&x->Qh;
        uint* signs = (uint*)&x->Signs;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.SValues);
        Vector256<int> acc = Vector256<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            Vector256<short> ls = Vector256.Create((short)(2 * x->Scale(ib) + 1));
            acc = KDot.MulAdd(acc, Magnitudes256(qs + 8 * ib, qh[ib], grid), Iq3DotSteps.Signed256(signs[ib], q8 + 32 * ib), ls);
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ3_S* x, BlockQ8_K* y)
    {
        byte* qs = (byte*)&x->Qs;
        byte* qh = (byte*)&x->Qh;
        uint* signs = (uint*)&x->Signs;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.SValues);
        Vector512<int> acc = Vector512<int>.Zero;
        for (int ib = 0; ib < 8; ib += 2)
        {
            Vector512<byte> magnitudes = Vector512.Create(Magnitudes256(qs + 8 * ib, qh[ib], grid), Magnitudes256(qs + 8 * ib + 8, qh[ib + 1], grid));
            Vector512<short> ls = Vector512.Create(Vector256.Create((short)(2 * x->Scale(ib) + 1)), Vector256.Create((short)(2 * x->Scale(ib + 1) + 1)));
            acc += KDot.MulAdd(magnitudes, Iq3DotSteps.Signed512(signs[ib], signs[ib + 1], q8 + 32 * ib), ls);
        }

        return acc;
    }

    /// <summary>The SSSE3/SSE4.1 super-block sums (no gather: four grid entries per vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ3_S* x, BlockQ8_K* y)
    {
        uint* signs = (uint*)&x->Signs;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.SValues);
        Vector128<int> acc = Vector128<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            Vector128<byte> m0 = Vector128.Create(grid[x->GridIndex(ib, 0)], grid[x->GridIndex(ib, 1)], grid[x->GridIndex(ib, 2)], grid[x->GridIndex(ib, 3)]).AsByte();
            Vector128<byte> m1 = Vector128.Create(grid[x->GridIndex(ib, 4)], grid[x->GridIndex(ib, 5)], grid[x->GridIndex(ib, 6)], grid[x->GridIndex(ib, 7)]).AsByte();
            acc += Iq3DotSteps.SubBlock128(m0, m1, signs[ib], q8 + 32 * ib, Vector128.Create((short)(2 * x->Scale(ib) + 1)));
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ3_S x, ref readonly BlockQ8_K y)
    {
        ref uint grid = ref MemoryMarshal.GetArrayDataReference(Iq3Grids.SValues);
        ReadOnlySpan<uint> signs = MemoryMarshal.Cast<byte, uint>((ReadOnlySpan<byte>)x.Signs);
        int sum = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            Vector128<byte> m0 = Vector128.Create(
                Unsafe.Add(ref grid, x.GridIndex(ib, 0)), Unsafe.Add(ref grid, x.GridIndex(ib, 1)),
                Unsafe.Add(ref grid, x.GridIndex(ib, 2)), Unsafe.Add(ref grid, x.GridIndex(ib, 3))).AsByte();
            Vector128<byte> m1 = Vector128.Create(
                Unsafe.Add(ref grid, x.GridIndex(ib, 4)), Unsafe.Add(ref grid, x.GridIndex(ib, 5)),
                Unsafe.Add(ref grid, x.GridIndex(ib, 6)), Unsafe.Add(ref grid, x.GridIndex(ib, 7))).AsByte();
            sum += (2 * x.Scale(ib) + 1) * Iq3DotSteps.SubBlockNeon(m0, m1, signs[ib], in y.Qs[32 * ib]);
        }

        return sum;
    }
}
