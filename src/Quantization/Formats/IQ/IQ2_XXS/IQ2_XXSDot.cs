using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XXS × Q8_K (<c>ggml_vec_dot_iq2_xxs_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_XXSDot : IKDotPaths<BlockIQ2_XXS>, IKScaledBlocks<BlockIQ2_XXS>, IIq2Blocks<BlockIQ2_XXS>
{
    public static QuantType WeightType => QuantType.IQ2_XXS;

    public static int BlockBytes => BlockIQ2_XXS.Size;

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.Reference(weights, activations, n, BlockIQ2_XXS.Size);

    internal static (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i) =>
        Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.SuperBlockSums(path, weights, activations, i);

    public static ushort D(in BlockIQ2_XXS x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_XXS x, int g) => IqGrids.Iq2Xxs[x.Qs[8 * (g >> 2) + (g & 3)]];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_XXS x, int g) => IqGrids.SignPatterns[(int)(x.SignsAndScale(g >> 2) >> (7 * (g & 3))) & 127];

    /// <summary>One scale per 32 values: both halves of sub-block h/2 share it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_XXS x, int h) => (int)(x.SignsAndScale(h >> 1) >> 28);

    /// <summary>The scaled loops omit ggml's final factor 0.125 (exact: a power of two).</summary>
    public static unsafe float Dot256(BlockIQ2_XXS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot256<IQ2_XXSDot, BlockIQ2_XXS>(x, y, nb);

    public static unsafe float Dot128(BlockIQ2_XXS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot128<IQ2_XXSDot, BlockIQ2_XXS>(x, y, nb);

    public static unsafe float Dot512(BlockIQ2_XXS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot512<IQ2_XXSDot, BlockIQ2_XXS>(x, y, nb);

    public static float DotNeon(ref readonly BlockIQ2_XXS x, ref readonly BlockQ8_K y, int nb) =>
        0.125f * KDot.ScaledDotNeon<IQ2_XXSDot, BlockIQ2_XXS>(in x, in y, nb);

    public static unsafe Vector256<int> Block256(BlockIQ2_XXS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.Block256(x, y);

    public static unsafe Vector512<int> Block512(BlockIQ2_XXS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.Block512(x, y);

    public static unsafe Vector128<int> Block128(BlockIQ2_XXS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.Block128(x, y);

    public static int BlockNeon(ref readonly BlockIQ2_XXS x, ref readonly BlockQ8_K y) => Iq2Dot<IQ2_XXSDot, BlockIQ2_XXS>.BlockNeon(in x, in y);
}
