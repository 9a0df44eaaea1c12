using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// The registered dot kernel of every super-block format with Q8_K activations: <see cref="KDot"/> over the format's
/// <see cref="IKDotPaths{TBlock}"/>. A format registers <c>DotEntry.CreateRows&lt;KDotKernel&lt;XxxDot, BlockXxx&gt;&gt;</c>.
/// </summary>
internal sealed class KDotKernel<TDot, TBlock> : IDotRowsKernel
    where TDot : IKDotPaths<TBlock>
    where TBlock : unmanaged
{
    public static QuantType WeightType => TDot.WeightType;

    public static QuantType ActivationType => QuantType.Q8_K;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KDot.Dot<TDot, TBlock>(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        TDot.DotReference(weights, activations, n);

    public static ReadOnlySpan<DotPath> Paths => KDot.Paths;

    public static DotPath BestPath => KDot.BestPath;

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KDot.DotOn<TDot, TBlock>(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        if (!TDot.TryDotRows(weights, rowBytes, activations, n, results))
        {
            KDot.DotRows<TDot, TBlock>(weights, rowBytes, activations, n, results);
        }
    }
}
