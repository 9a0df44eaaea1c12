namespace Quantization;

/// <summary>
/// A weight matrix that multiplies activations without materialising float weights: the contract shared by
/// <see cref="QuantizedMatrix"/>, <see cref="Schemes.SchemeMatrix"/> and the matrices built on them, so code that runs
/// a layer (or adds an adapter to it) does not care how the weights are stored.
/// </summary>
public interface IWeightMatrix
{
    /// <summary>Number of weight rows (outputs).</summary>
    int Rows { get; }

    /// <summary>Values per weight row (inputs).</summary>
    int Columns { get; }

    /// <summary>y = W·x.</summary>
    /// <param name="x">Exactly <see cref="Columns"/> values.</param>
    /// <param name="y">At least <see cref="Rows"/> values.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1);

    /// <summary>Y = X·Wᵀ for <paramref name="batch"/> activation rows.</summary>
    /// <param name="x">The activations, <paramref name="batch"/> × <see cref="Columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <see cref="Rows"/>, row-major.</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1);
}
