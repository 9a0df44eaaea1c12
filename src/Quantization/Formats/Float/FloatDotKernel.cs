using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>The registered dot kernel of F32, F16 and BF16 weights: <see cref="FloatDot{TWeights}"/> with F32 activations.</summary>
internal sealed class FloatDotKernel<TWeights> : IDotRowsKernel where TWeights : IFloatWeights
{
    public static QuantType WeightType => TWeights.WeightType;

    /// <summary>F32: the activations stay in float (a copy per call), unlike ggml's F16 / BF16 vec_dot, which rounds them.</summary>
    public static QuantType ActivationType => QuantType.F32;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) => FloatDot<TWeights>.Dot(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        FloatDot<TWeights>.Reference(weights, activations, n);

    public static ReadOnlySpan<DotPath> Paths => FloatDot<TWeights>.Paths;

    public static DotPath BestPath => FloatDot<TWeights>.BestPath;

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        FloatDot<TWeights>.DotOn(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        FloatDot<TWeights>.DotRows(weights, rowBytes, activations, n, results);
}
