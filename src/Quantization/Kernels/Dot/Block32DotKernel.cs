namespace Quantization.Kernels.Dot;

/// <summary>
/// The registered dot kernel of every 32-value weight format: <see cref="Block32Dot{TWeights}"/> over the format's
/// <see cref="IBlock32Weights"/>, with Q8_1 activations for formats with a min term and Q8_0 for the others (ggml's
/// <c>vec_dot_type</c>). A format registers <c>DotEntry.CreateRows&lt;Block32DotKernel&lt;XxxWeights&gt;&gt;</c>.
/// </summary>
internal sealed class Block32DotKernel<TWeights> : IDotRowsKernel where TWeights : IBlock32Weights
{
    public static QuantType WeightType => TWeights.WeightType;

    public static QuantType ActivationType => TWeights.HasMin ? QuantType.Q8_1 : QuantType.Q8_0;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<TWeights>.Dot(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<TWeights>.Reference(weights, activations, n);

    public static ReadOnlySpan<DotPath> Paths => Block32Dot<TWeights>.Paths;

    public static DotPath BestPath => Block32Dot<TWeights>.BestPath;

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<TWeights>.DotOn(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        Block32Dot<TWeights>.DotRows(weights, rowBytes, activations, n, results);
}
