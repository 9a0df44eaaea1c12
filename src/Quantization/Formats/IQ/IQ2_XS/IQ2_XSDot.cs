using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XS × Q8_K (<c>ggml_vec_dot_iq2_xs_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_XSDot : IKDotPaths<BlockIQ2_XS>, IKScaledBlocks<BlockIQ2_XS>, IIq2Blocks<BlockIQ2_XS>
{
    public static QuantType WeightType => QuantType.IQ2_XS;

    public static int BlockBytes => BlockIQ2_XS.Size;

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.Reference(weights, activations, n, BlockIQ2_XS.Size);

    internal static (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i) =>
        Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.SuperBlockSums(path, weights, activations, i);

    public static ushort D(in BlockIQ2_XS x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_XS x, int g) => IqGrids.Iq2Xs[x.Code(g) & 511];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_XS x, int g) => IqGrids.SignPatterns[x.Code(g) >> 9];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_XS x, int h) => (x.Scales[h >> 1] >> (4 * (h & 1))) & 0xF;

    /// <summary>The scaled loops omit ggml's final factor 0.125 (exact: a power of two).</summary>
    public static unsafe float Dot256(BlockIQ2_XS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot256<IQ2_XSDot, BlockIQ2_XS>(x, y, nb);

    public static unsafe float Dot128(BlockIQ2_XS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot128<IQ2_XSDot, BlockIQ2_XS>(x, y, nb);

    public static unsafe float Dot512(BlockIQ2_XS* x, BlockQ8_K* y, int nb) =>
        0.125f * KDot.ScaledDot512<IQ2_XSDot, BlockIQ2_XS>(x, y, nb);

    public static float DotNeon(ref readonly BlockIQ2_XS x, ref readonly BlockQ8_K y, int nb) =>
        0.125f * KDot.ScaledDotNeon<IQ2_XSDot, BlockIQ2_XS>(in x, in y, nb);

    public static unsafe Vector256<int> Block256(BlockIQ2_XS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.Block256(x, y);

    public static unsafe Vector512<int> Block512(BlockIQ2_XS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.Block512(x, y);

    public static unsafe Vector128<int> Block128(BlockIQ2_XS* x, BlockQ8_K* y) => Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.Block128(x, y);

    public static int BlockNeon(ref readonly BlockIQ2_XS x, ref readonly BlockQ8_K y) => Iq2Dot<IQ2_XSDot, BlockIQ2_XS>.BlockNeon(in x, in y);
}
