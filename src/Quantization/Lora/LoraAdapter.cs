namespace Quantization.Lora;

/// <summary>
/// A low-rank update of one weight matrix: ΔW = <see cref="Scaling"/> · B·A, with A of <see cref="Rank"/> ×
/// <see cref="InputSize"/> and B of <see cref="OutputSize"/> × <see cref="Rank"/>, both float32.
/// </summary>
/// <remarks>
/// The orientation is that of <see cref="IWeightMatrix"/>: rows are outputs, so ΔW has the base matrix's shape and
/// y = W·x + Scaling·B·(A·x). B is kept transposed (<see cref="Rank"/> rows of <see cref="OutputSize"/>) because the
/// fused product and the merge both walk it one rank component at a time, contiguous over the outputs.
/// Instances are immutable and safe to share between threads and matrices.
/// </remarks>
public sealed class LoraAdapter
{
    private readonly float[] _a;
    private readonly float[] _bTransposed;

    /// <summary>Creates an adapter from A and B (copied).</summary>
    /// <param name="a">A, <paramref name="rank"/> rows of <paramref name="inputSize"/> values, row-major.</param>
    /// <param name="b">B, <paramref name="outputSize"/> rows of <paramref name="rank"/> values, row-major.</param>
    /// <param name="rank">The rank r; positive.</param>
    /// <param name="inputSize">Values per input vector (the base matrix's columns); positive.</param>
    /// <param name="outputSize">Values per output vector (the base matrix's rows); positive.</param>
    /// <param name="scaling">The factor the file's hyper-parameters give ΔW (see <see cref="GetScaling"/>); finite.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is zero or negative.</exception>
    /// <exception cref="ArgumentException">A length does not match the sizes, or <paramref name="scaling"/> is not finite.</exception>
    public LoraAdapter(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int rank, int inputSize, int outputSize, float scaling = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        if ((long)rank * inputSize != a.Length)
        {
            ThrowHelper.ThrowArgument(nameof(a), $"A has {a.Length} values; rank {rank} × {inputSize} inputs needs {(long)rank * inputSize}.");
        }

        if ((long)rank * outputSize != b.Length)
        {
            ThrowHelper.ThrowArgument(nameof(b), $"B has {b.Length} values; {outputSize} outputs × rank {rank} needs {(long)rank * outputSize}.");
        }

        if (!float.IsFinite(scaling))
        {
            ThrowHelper.ThrowArgument(nameof(scaling), $"The scaling {scaling} is not finite.");
        }

        Rank = rank;
        InputSize = inputSize;
        OutputSize = outputSize;
        Scaling = scaling;
        _a = a.ToArray();
        _bTransposed = new float[b.Length];
        for (int o = 0; o < outputSize; o++)
        {
            for (int k = 0; k < rank; k++)
            {
                _bTransposed[k * outputSize + o] = b[o * rank + k];
            }
        }
    }

    /// <summary>The rank r.</summary>
    public int Rank { get; }

    /// <summary>Values per input vector: A's columns, the base matrix's columns.</summary>
    public int InputSize { get; }

    /// <summary>Values per output vector: B's rows, the base matrix's rows.</summary>
    public int OutputSize { get; }

    /// <summary>The factor ΔW = Scaling · B·A carries from the adapter file (α/r, α/√r, or 1).</summary>
    public float Scaling { get; }

    /// <summary>A, <see cref="Rank"/> rows of <see cref="InputSize"/> values.</summary>
    public ReadOnlySpan<float> A => _a;

    /// <summary>Bᵀ, <see cref="Rank"/> rows of <see cref="OutputSize"/> values (column k of B is row k here).</summary>
    public ReadOnlySpan<float> BTransposed => _bTransposed;

    /// <summary>B[<paramref name="output"/>, <paramref name="k"/>].</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside B.</exception>
    public float GetB(int output, int k)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)output, (uint)OutputSize, nameof(output));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)k, (uint)Rank, nameof(k));
        return _bTransposed[k * OutputSize + output];
    }

    /// <summary>
    /// The scaling PEFT gives an adapter: α/r, or α/√r with rank-stabilised LoRA (rsLoRA).
    /// </summary>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="rank">r; positive.</param>
    /// <param name="useRsLora">Whether the adapter was trained with rsLoRA scaling.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is zero or negative.</exception>
    public static float GetScaling(float alpha, int rank, bool useRsLora = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        return useRsLora ? (float)(alpha / Math.Sqrt(rank)) : alpha / rank;
    }

    /// <summary>
    /// The scaling llama.cpp gives a GGUF adapter: α/r when <c>adapter.lora.alpha</c> is non-zero, else 1 (the user's
    /// scale alone).
    /// </summary>
    /// <param name="alpha"><c>adapter.lora.alpha</c>, 0 when absent.</param>
    /// <param name="rank">r; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is zero or negative.</exception>
    public static float GetGgufScaling(float alpha, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        return alpha != 0 ? alpha / rank : 1f;
    }
}
