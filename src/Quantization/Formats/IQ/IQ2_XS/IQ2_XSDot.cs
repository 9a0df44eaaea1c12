using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XS × Q8_K (<c>ggml_vec_dot_iq2_xs_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_XSDot : IIq2Blocks<IQ2_XSDot, BlockIQ2_XS>
{
    public static QuantType WeightType => QuantType.IQ2_XS;

    public static int BlockBytes => BlockIQ2_XS.Size;

    public static ushort D(in BlockIQ2_XS x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_XS x, int g) => IqGrids.Iq2Xs[x.Code(g) & 511];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_XS x, int g) => IqGrids.SignPatterns[x.Code(g) >> 9];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_XS x, int h) => (x.Scales[h >> 1] >> (4 * (h & 1))) & 0xF;
}
