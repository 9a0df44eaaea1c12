namespace Quantization.Kernels.Dot;

/// <summary>
/// A fused dot product of one weight row stored in a block format with one activation row quantized once per call
/// to <see cref="ActivationType"/> (Q8_0, Q8_1 or Q8_K), as ggml's <c>ggml_vec_dot_&lt;w&gt;_&lt;a&gt;</c>
/// (docs/formats.md#dot-products): exact integer sums inside a block, float only at the block level.
/// </summary>
/// <remarks>
/// <see cref="DotReference"/> is the scalar oracle, written in the order of ggml's generic C kernel. Vector paths
/// (<see cref="Dot"/>) compute the same integer sums exactly; their float result may differ from the reference only by
/// the order in which the per-block terms are added.
/// </remarks>
internal interface IDotKernel
{
    /// <summary>The weight format.</summary>
    static abstract QuantType WeightType { get; }

    /// <summary>The activation format the weights multiply (Q8_0, Q8_1 or Q8_K).</summary>
    static abstract QuantType ActivationType { get; }

    /// <summary>Σ w[i]·a[i] over <paramref name="n"/> values (a multiple of both block sizes); the fastest path.</summary>
    static abstract float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

    /// <summary>The scalar reference of <see cref="Dot"/>.</summary>
    static abstract float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

    /// <summary>
    /// The instruction-set paths the kernel implements, <see cref="DotPath.Scalar"/> included; <see cref="Dot"/> runs the
    /// first of them in <see cref="DotPaths.Order"/> that this process supports (<see cref="DotPaths.Best"/>).
    /// </summary>
    static abstract ReadOnlySpan<DotPath> Paths { get; }

    /// <summary>The path <see cref="Dot"/> runs on this process (the kernel's own choice, which the tier tests check).</summary>
    static abstract DotPath BestPath { get; }

    /// <summary><see cref="Dot"/> on <paramref name="path"/>, which this process must support (<see cref="DotPaths.IsSupported"/>).</summary>
    static abstract float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);
}
