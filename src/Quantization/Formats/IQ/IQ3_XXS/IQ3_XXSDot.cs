using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// IQ3_XXS × Q8_K (<c>ggml_vec_dot_iq3_xxs_q8_K</c>): per super-block Σ_ib (2s_ib + 1)·Σ ±grid·q8 is exact in int32;
/// the result is 0.25·Σ d·d8·that, the 0.25 applied once at the end as in ggml.
/// </summary>
internal readonly struct IQ3_XXSDot : IKScaledBlocks<IQ3_XXSDot, BlockIQ3_XXS>
{
    public static QuantType WeightType => QuantType.IQ3_XXS;

    public static int BlockBytes => BlockIQ3_XXS.Size;

    /// <summary>ggml's generic kernel: one int32 sum per super-block, (d·d8)·sum into a float, times 0.25 at the end.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockIQ3_XXS.Size, weights, activations);
        ReadOnlySpan<BlockIQ3_XXS> x = MemoryMarshal.Cast<byte, BlockIQ3_XXS>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            float d = Fp16.ToSingle(x[i].D) * y[i].D;
            sumf += d * SuperBlockSum(in x[i], in y[i]);
        }

        return 0.25f * sumf;
    }

    /// <summary>The generic kernel's integer sum of one super-block.</summary>
    public static int SuperBlockSum(in BlockIQ3_XXS x, in BlockQ8_K y)
    {
        ReadOnlySpan<byte> signTable = IqSigns.Signs;
        ReadOnlySpan<byte> mask = IqSigns.Mask;
        uint[] grid = Iq3Grids.XxsValues;
        int bsum = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            uint aux32 = x.Aux(ib);
            int ls = (int)(2 * (aux32 >> 28) + 1);
            int sumi = 0;
            for (int l = 0; l < 4; ++l)
            {
                uint grid1 = grid[x.Qs[8 * ib + 2 * l]];
                uint grid2 = grid[x.Qs[8 * ib + 2 * l + 1]];
                byte signs = signTable[(int)((aux32 >> (7 * l)) & 127)];
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

    /// <summary>The sign bytes of a sub-block's four groups of eight (byte g for group g) from its word <paramref name="aux32"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Signs(uint aux32)
    {
        ref byte table = ref MemoryMarshal.GetReference(IqSigns.Signs);
        return Unsafe.Add(ref table, aux32 & 127)
            | ((uint)Unsafe.Add(ref table, (aux32 >> 7) & 127) << 8)
            | ((uint)Unsafe.Add(ref table, (aux32 >> 14) & 127) << 16)
            | ((uint)Unsafe.Add(ref table, (aux32 >> 21) & 127) << 24);
    }

    public static ushort D(in BlockIQ3_XXS x) => x.D;

    public static unsafe float Dot256(BlockIQ3_XXS* x, BlockQ8_K* y, int nb) =>
        0.25f * KDot.ScaledDot256<IQ3_XXSDot, BlockIQ3_XXS>(x, y, nb);

    public static unsafe float Dot128(BlockIQ3_XXS* x, BlockQ8_K* y, int nb) =>
        0.25f * KDot.ScaledDot128<IQ3_XXSDot, BlockIQ3_XXS>(x, y, nb);

    public static unsafe float Dot512(BlockIQ3_XXS* x, BlockQ8_K* y, int nb) =>
        0.25f * KDot.ScaledDot512<IQ3_XXSDot, BlockIQ3_XXS>(x, y, nb);

    public static float DotNeon(ref readonly BlockIQ3_XXS x, ref readonly BlockQ8_K y, int nb) =>
        0.25f * KDot.ScaledDotNeon<IQ3_XXSDot, BlockIQ3_XXS>(in x, in y, nb);

    /// <summary>
    /// The 32 magnitudes of the sub-block whose eight grid indices are at <paramref name="qs"/>: eight scalar loads (a
    /// <c>vpgatherdd</c> was measured slower on AMD Zen 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Magnitudes256(byte* qs, uint* grid) =>
        Vector256.Create(grid[qs[0]], grid[qs[1]], grid[qs[2]], grid[qs[3]], grid[qs[4]], grid[qs[5]], grid[qs[6]], grid[qs[7]]).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ3_XXS* x, BlockQ8_K* y)
    {
        byte* qs = (byte*)&x->Qs;
        uint* aux = (uint*)&x->ScalesAndSigns;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.XxsValues);
        Vector256<int> acc = Vector256<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            uint aux32 = aux[ib];
            Vector256<short> ls = Vector256.Create((short)(2 * (aux32 >> 28) + 1));
            acc = KDot.MulAdd(acc, Magnitudes256(qs + 8 * ib, grid), Iq3DotSteps.Signed256(Signs(aux32), q8 + 32 * ib), ls);
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ3_XXS* x, BlockQ8_K* y)
    {
        byte* qs = (byte*)&x->Qs;
        uint* aux = (uint*)&x->ScalesAndSigns;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.XxsValues);
        Vector512<int> acc = Vector512<int>.Zero;
        for (int ib = 0; ib < 8; ib += 2)
        {
            uint aux0 = aux[ib], aux1 = aux[ib + 1];
            Vector512<byte> magnitudes = Vector512.Create(Magnitudes256(qs + 8 * ib, grid), Magnitudes256(qs + 8 * ib + 8, grid));
            Vector512<short> ls = Vector512.Create(Vector256.Create((short)(2 * (aux0 >> 28) + 1)), Vector256.Create((short)(2 * (aux1 >> 28) + 1)));
            acc += KDot.MulAdd(magnitudes, Iq3DotSteps.Signed512(Signs(aux0), Signs(aux1), q8 + 32 * ib), ls);
        }

        return acc;
    }

    /// <summary>The SSSE3/SSE4.1 super-block sums (no gather: four grid entries per vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ3_XXS* x, BlockQ8_K* y)
    {
        byte* qs = (byte*)&x->Qs;
        uint* aux = (uint*)&x->ScalesAndSigns;
        sbyte* q8 = (sbyte*)&y->Qs;
        uint* grid = Iq3Grids.Address(Iq3Grids.XxsValues);
        Vector128<int> acc = Vector128<int>.Zero;
        for (int ib = 0; ib < 8; ++ib)
        {
            uint aux32 = aux[ib];
            byte* q = qs + 8 * ib;
            Vector128<byte> m0 = Vector128.Create(grid[q[0]], grid[q[1]], grid[q[2]], grid[q[3]]).AsByte();
            Vector128<byte> m1 = Vector128.Create(grid[q[4]], grid[q[5]], grid[q[6]], grid[q[7]]).AsByte();
            acc += Iq3DotSteps.SubBlock128(m0, m1, Signs(aux32), q8 + 32 * ib, Vector128.Create((short)(2 * (aux32 >> 28) + 1)));
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ3_XXS x, ref readonly BlockQ8_K y)
    {
        ref uint grid = ref MemoryMarshal.GetArrayDataReference(Iq3Grids.XxsValues);
        int sum = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            uint aux32 = x.Aux(ib);
            int q = 8 * ib;
            Vector128<byte> m0 = Vector128.Create(Unsafe.Add(ref grid, x.Qs[q]), Unsafe.Add(ref grid, x.Qs[q + 1]), Unsafe.Add(ref grid, x.Qs[q + 2]), Unsafe.Add(ref grid, x.Qs[q + 3])).AsByte();
            Vector128<byte> m1 = Vector128.Create(Unsafe.Add(ref grid, x.Qs[q + 4]), Unsafe.Add(ref grid, x.Qs[q + 5]), Unsafe.Add(ref grid, x.Qs[q + 6]), Unsafe.Add(ref grid, x.Qs[q + 7])).AsByte();
            sum += (int)(2 * (aux32 >> 28) + 1) * Iq3DotSteps.SubBlockNeon(m0, m1, Signs(aux32), in y.Qs[32 * ib]);
        }

        return sum;
    }
}
