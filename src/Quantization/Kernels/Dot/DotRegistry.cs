using System.Collections.Frozen;

namespace Quantization.Kernels.Dot;

/// <summary>Σ w·a over <c>n</c> values of one weight row and one quantized activation row.</summary>
internal delegate float DotFn(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

/// <summary>One dot product per weight row of <c>rowBytes</c> bytes, for <c>results.Length</c> rows.</summary>
/// <summary>Σ w·a on one instruction-set path.</summary>
internal delegate float DotOnFn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

internal delegate void DotRowsFn(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results);

/// <summary>The factor a per-tensor trailer applies to every row's dot product.</summary>
internal delegate float TensorScaleFn(ReadOnlySpan<byte> trailer);

/// <summary>The dot kernel registered for one weight type, and the activation format it multiplies.</summary>
internal sealed class DotEntry(QuantType weightType, QuantType activationType, DotFn dot, DotFn dotReference, DotRowsFn dotRows,
                               DotPath[] paths, DotPath bestPath, DotOnFn dotOn, TensorScaleFn? tensorScale = null)
{
    public QuantType WeightType { get; } = weightType;
    public QuantType ActivationType { get; } = activationType;
    public QuantFormat WeightFormat { get; } = QuantFormat.Get(weightType);
    public QuantFormat ActivationFormat { get; } = QuantFormat.Get(activationType);

    /// <summary>Whether the activations are quantized (an integer dot); F32 activations mean a float dot (F32, F16, BF16 weights).</summary>
    public bool IsInteger => ActivationType != QuantType.F32;
    public DotFn Dot { get; } = dot;
    public DotFn DotReference { get; } = dotReference;
    public DotRowsFn DotRows { get; } = dotRows;

    /// <summary>The instruction-set paths the kernel implements (<see cref="DotPath.Scalar"/> included).</summary>
    public IReadOnlyList<DotPath> Paths { get; } = paths;

    /// <summary>The path <see cref="Dot"/> takes in this process.</summary>
    public DotPath BestPath { get; } = bestPath;

    /// <summary><see cref="Dot"/> on a given path (one this process supports), for tests and benchmarks.</summary>
    public DotOnFn DotOn { get; } = dotOn;

    /// <summary>
    /// For a weight format with a per-tensor trailer, the factor of every row's result read from it (<see cref="Dot"/>
    /// leaves it out); <see langword="null"/> for block formats, whose rows carry their scales.
    /// </summary>
    public TensorScaleFn? TensorScale { get; } = tensorScale;

    /// <summary>The entry of a kernel that has only the one-row <see cref="IDotKernel.Dot"/>: rows run one by one.</summary>
    public static DotEntry Create<TKernel>() where TKernel : IDotKernel =>
        new(TKernel.WeightType, TKernel.ActivationType, TKernel.Dot, TKernel.DotReference, RowByRow<TKernel>, TKernel.Paths.ToArray(), TKernel.BestPath, TKernel.DotOn);

    /// <summary>The entry of a kernel with its own multi-row inner loop.</summary>
    public static DotEntry CreateRows<TKernel>() where TKernel : IDotRowsKernel =>
        new(TKernel.WeightType, TKernel.ActivationType, TKernel.Dot, TKernel.DotReference, TKernel.DotRows, TKernel.Paths.ToArray(), TKernel.BestPath, TKernel.DotOn);

    /// <summary>The entry of a kernel whose weight format has a per-tensor trailer.</summary>
    public static DotEntry CreateWithTrailer<TKernel>() where TKernel : ITensorDotKernel =>
        new(TKernel.WeightType, TKernel.ActivationType, TKernel.Dot, TKernel.DotReference, TKernel.DotRows, TKernel.Paths.ToArray(), TKernel.BestPath, TKernel.DotOn,
            TKernel.TensorScale);

    private static void RowByRow<TKernel>(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
        where TKernel : IDotKernel
    {
        for (int r = 0; r < results.Length; r++)
        {
            results[r] = TKernel.Dot(weights.Slice(r * rowBytes, rowBytes), activations, n);
        }
    }
}

/// <summary>
/// Which weight types have a fused dot kernel: those whose registered descriptor has one (<see cref="Formats.FormatRegistry"/>).
/// A type without one still multiplies through the float path of <see cref="QuantizedMath"/> as long as it can be dequantized.
/// </summary>
internal static class DotRegistry
{
    private static readonly FrozenDictionary<QuantType, DotEntry> s_entries =
        Formats.FormatRegistry.All.Where(d => d.Dot is not null).Select(d => d.Dot!()).ToFrozenDictionary(e => e.WeightType);

    public static DotEntry? TryGet(QuantType type) => s_entries.GetValueOrDefault(type);

    /// <summary>Every registered weight type, in id order.</summary>
    public static IEnumerable<DotEntry> All => s_entries.Values.OrderBy(e => (int)e.WeightType);
}
