using System.Runtime.CompilerServices;
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
}
