using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XXS × Q8_K (<c>ggml_vec_dot_iq2_xxs_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_XXSDot : IIq2Blocks<IQ2_XXSDot, BlockIQ2_XXS>
{
    public static QuantType WeightType => QuantType.IQ2_XXS;

    public static int BlockBytes => BlockIQ2_XXS.Size;

    public static ushort D(in BlockIQ2_XXS x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_XXS x, int g) => IqGrids.Iq2Xxs[x.Qs[8 * (g >> 2) + (g & 3)]];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_XXS x, int g) => IqGrids.SignPatterns[(int)(x.SignsAndScale(g >> 2) >> (7 * (g & 3))) & 127];

    /// <summary>One scale per 32 values: both halves of sub-block h/2 share it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_XXS x, int h) => (int)(x.SignsAndScale(h >> 1) >> 28);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockGrid(ref readonly BlockIQ2_XXS x, nuint ib, int k) =>
        Unsafe.Add(ref MemoryMarshal.GetReference(IqGrids.Iq2Xxs), Unsafe.Add(ref Qs(in x), 8 * ib + (nuint)k));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockSignMask(ref readonly BlockIQ2_XXS x, nuint ib, int k) => Iq2SignMasks.OfCode((SignsAndScale(in x, ib) >> (7 * k)) & 127);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SubBlockMultiplier(ref readonly BlockIQ2_XXS x, nuint ib, int h) => 2 * (int)(SignsAndScale(in x, ib) >> 28) + 1;

    /// <summary>Both halves of a sub-block share its one scale: one broadcast.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> SubBlockScale256(ref readonly BlockIQ2_XXS x, nuint ib) => Vector256.Create((short)SubBlockMultiplier(in x, ib, 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte Qs(ref readonly BlockIQ2_XXS x) => ref Unsafe.As<Bytes64, byte>(ref Unsafe.AsRef(in x.Qs));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint SignsAndScale(ref readonly BlockIQ2_XXS x, nuint ib) => Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref Qs(in x), 8 * ib + 4));
}
