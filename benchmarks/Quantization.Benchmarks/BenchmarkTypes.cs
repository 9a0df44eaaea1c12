using Quantization.Formats;
using Quantization.Kernels.Dot;

namespace Quantization.Benchmarks;

/// <summary>
/// The type lists of every benchmark class, derived from the format registry: a newly registered format is measured by
/// every class that applies to it, with no list to edit (docs/adding-a-format.md).
/// </summary>
public static class BenchmarkTypes
{
    /// <summary>ggml weight types with a quantizer, F32 (a copy) aside: quantized and dequantized against ggml.</summary>
    public static QuantType[] GgmlWeights { get; } =
        [.. FormatRegistry.All.Where(d => d.IsGgmlType && d.Kernels is not null && d.Role == FormatRole.Weight && d.Type != QuantType.F32).Select(d => d.Type)];

    /// <summary>Those of <see cref="GgmlWeights"/> whose quantizer takes importance into account.</summary>
    public static QuantType[] GgmlWeightsWithImportance { get; } =
        [.. GgmlWeights.Where(t => FormatRegistry.TryGet(t)!.Importance != ImportanceUse.Ignored)];

    /// <summary>The ggml activation formats of the dot products (Q8_0, Q8_1, Q8_K), in id order.</summary>
    public static QuantType[] GgmlActivations { get; } =
        [.. DotRegistry.All.Select(e => e.ActivationType).Distinct().Where(t => QuantFormat.Get(t).IsGgmlType).Order()];

    /// <summary>Types whose ggml dequantizer exists: the weights and the activation formats, but Q8_1 (ggml has no <c>dequantize_row_q8_1</c>).</summary>
    public static QuantType[] GgmlDequantizers { get; } =
        [.. GgmlWeights.Union(GgmlActivations.Where(t => t != QuantType.Q8_1)).OrderBy(t => (int)t)];

    /// <summary>Every weight type with a fused dot kernel: the MatVec benchmarks.</summary>
    public static QuantType[] Dots { get; } = [.. DotRegistry.All.Select(e => e.WeightType)];

    /// <summary>The dots with Q8_K activations of one family.</summary>
    private static QuantType[] Q8KDots(FormatFamily family) =>
        [.. DotRegistry.All.Where(e => e.ActivationType == QuantType.Q8_K && FormatRegistry.TryGet(e.WeightType)!.Family == family).Select(e => e.WeightType)];

    /// <summary>K-quant and IQ dots with Q8_K activations (the super-block formats that are not ternary).</summary>
    public static QuantType[] SuperBlockDots { get; } = [.. Q8KDots(FormatFamily.KQuant), .. Q8KDots(FormatFamily.IQ)];

    /// <summary>Ternary dots with Q8_K activations.</summary>
    public static QuantType[] TernaryDots { get; } = Q8KDots(FormatFamily.Ternary);

    /// <summary>Weight formats of the 4-bit code-book family with a dot kernel.</summary>
    public static QuantType[] FourBitDots { get; } =
        [.. Dots.Where(t => FormatRegistry.TryGet(t)!.Family == FormatFamily.FourBit)];

    /// <summary>
    /// A few formats that stand for all when every pair costs seconds (bandwidth, smoke): those llama.cpp repacks, and of each
    /// family the ggml dot format with the most bits per weight.
    /// </summary>
    public static QuantType[] Representatives { get; } =
        [.. MatVecBenchmarks.GraphTypes
            .Union(Dots.Where(t => QuantFormat.Get(t).IsGgmlType)
                       .GroupBy(t => FormatRegistry.TryGet(t)!.Family)
                       .Select(g => g.MaxBy(t => QuantFormat.Get(t).BitsPerWeight)))
            .OrderBy(t => (int)t)];
}
