using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_S × Q8_K (<c>ggml_vec_dot_iq2_s_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_SDot : IIq2Blocks<IQ2_SDot, BlockIQ2_S>
{
    public static QuantType WeightType => QuantType.IQ2_S;

    public static int BlockBytes => BlockIQ2_S.Size;

    public static ushort D(in BlockIQ2_S x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_S x, int g) => IqGrids.Iq2S[x.GridIndex(g)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_S x, int g) => x.Qs[32 + g];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_S x, int h) => (x.Scales[h >> 1] >> (4 * (h & 1))) & 0xF;
}
