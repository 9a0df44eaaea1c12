using CommunityToolkit.HighPerformance.Buffers;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization;

/// <summary>
/// Matrix-vector and matrix-matrix products over quantized weights. Weights are <c>rows</c> rows of <c>columns</c>
/// values stored row after row in <c>type</c> (the bytes <see cref="Quantizer.Quantize"/> writes with
/// <c>rowLength = columns</c>), followed for a format with a per-tensor trailer (<see cref="QuantFormat.TrailerBytes"/>:
/// I2_S) by that trailer, i.e. exactly <see cref="Quantizer.GetByteCount"/>(<c>type</c>, <c>rows · columns</c>) bytes.
/// </summary>
/// <remarks>
/// <para>Two paths:</para>
/// <list type="bullet">
/// <item><b>Integer</b> (<see cref="MatVec"/>, <see cref="MatMul"/>): each activation row is quantized once per call to the
/// weight format's activation format (Q8_0 for Q4_0 / Q5_0 / Q8_0 / IQ4_NL / NF4 / FP4, Q8_1 for Q4_1 / Q5_1, Q8_K for
/// the K-quants and TQ1_0 / TQ2_0, I8_S for I2_S), and each block's product is an exact integer sum scaled in float, as
/// ggml's <c>ggml_vec_dot_*</c> computes it. The results agree with ggml up to the order of the float additions. NF4 and
/// FP4 (not in ggml) read their codes as round(code·2^14) in int16, within 2^−15·absmax of each weight, far below the
/// activations' quantization error. I2_S follows bitnet.cpp: per-token int8 activations
/// (<see cref="Ternary.BitNetQuantizer.QuantizeActivations"/>), one integer sum per row, y = (Σ code·q − Σq) / s · scale
/// with the tensor's scale from the trailer. A format without an integer kernel
/// (<see cref="HasIntegerDot"/> is <see langword="false"/>: F32, F16, BF16 and the formats whose kernel is still to come)
/// runs the float path instead.</item>
/// <item><b>Float</b> (<see cref="MatVecAccurate"/>, <see cref="MatMulAccurate"/>): the activations stay in float and each
/// weight block is dequantized (bit for bit as <see cref="Quantizer.Dequantize"/>) and multiplied in float, so the only
/// error is the weights' own quantization error. Slower; for callers who prefer accuracy to speed.</item>
/// </list>
/// <para>Scratch for the quantized activations comes from a pool: no allocation per call once the pool is warm. Shapes are
/// checked before anything is written; a wrong length is an <see cref="ArgumentException"/> naming the parameter.
/// Concurrent calls on the same weights are safe (the weights are only read). Non-finite values in <c>x</c> give
/// unspecified results.</para>
/// </remarks>
public static class QuantizedMath
{
    /// <summary><see langword="true"/> when <paramref name="type"/> has an integer dot kernel (quantized activations).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not defined.</exception>
    public static bool HasIntegerDot(QuantType type)
    {
        QuantFormat.Get(type);
        return DotRegistry.TryGet(type) is not null;
    }

    /// <summary>y[r] = Σc W[r, c]·x[c] through the integer path (activations quantized once per call).</summary>
    /// <param name="type">The weight format.</param>
    /// <param name="weights">Exactly <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>, then the format's per-tensor trailer if it has one.</param>
    /// <param name="rows">Number of weight rows (outputs).</param>
    /// <param name="columns">Values per weight row; a positive multiple of the format's block size.</param>
    /// <param name="x">Exactly <paramref name="columns"/> values.</param>
    /// <param name="y">At least <paramref name="rows"/> values; the first <paramref name="rows"/> are written.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A shape or length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be multiplied by this version.</exception>
    public static void MatVec(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns,
                              ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) =>
        MatMul(type, weights, rows, columns, x, y, 1, maxDegreeOfParallelism);

    /// <summary>
    /// y[b·rows + r] = Σc W[r, c]·x[b·columns + c] for <paramref name="batch"/> activation rows (prompt processing) through
    /// the integer path. Each tile of weight rows is loaded once and multiplied by every activation row.
    /// </summary>
    /// <param name="type">The weight format.</param>
    /// <param name="weights">Exactly <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>, then the format's per-tensor trailer if it has one.</param>
    /// <param name="rows">Number of weight rows (outputs per activation row).</param>
    /// <param name="columns">Values per weight row; a positive multiple of the format's block size.</param>
    /// <param name="x">The activations, <paramref name="batch"/> × <paramref name="columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <paramref name="rows"/>, row-major (at least that many values).</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the weight rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A shape or length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="batch"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be multiplied by this version.</exception>
    public static void MatMul(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns,
                              ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        int rowBytes = MatMulDriver.Validate(type, weights, rows, columns, x.Length, y.Length, batch, maxDegreeOfParallelism, out KernelEntry kernel);
        if (rows == 0 || batch == 0)
        {
            return;
        }

        int parts = MatMulDriver.Parts(rows, maxDegreeOfParallelism);
        DotEntry? dot = DotRegistry.TryGet(type);
        if (dot is null)
        {
            MatMulDriver.RunFloat(kernel, weights, rows, columns, rowBytes, x, y, batch, parts);
            return;
        }

        using SpanOwner<byte> scratch = SpanOwner<byte>.Allocate(checked(batch * MatMulDriver.ActivationRowBytes(dot, columns)));
        MatMulDriver.RunQuantized(dot, weights, rows, columns, rowBytes, x, y, batch, parts, scratch.Span);
    }

    /// <summary>y[r] = Σc W[r, c]·x[c] through the float path: weights dequantized block by block, activations kept in float.</summary>
    /// <param name="type">The weight format.</param>
    /// <param name="weights">Exactly <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>, then the format's per-tensor trailer if it has one.</param>
    /// <param name="rows">Number of weight rows (outputs).</param>
    /// <param name="columns">Values per weight row; a positive multiple of the format's block size.</param>
    /// <param name="x">Exactly <paramref name="columns"/> values.</param>
    /// <param name="y">At least <paramref name="rows"/> values; the first <paramref name="rows"/> are written.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A shape or length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be dequantized by this version.</exception>
    public static void MatVecAccurate(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns,
                                      ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) =>
        MatMulAccurate(type, weights, rows, columns, x, y, 1, maxDegreeOfParallelism);

    /// <summary>
    /// y[b·rows + r] = Σc W[r, c]·x[b·columns + c] for <paramref name="batch"/> activation rows through the float path;
    /// each weight block is dequantized once and multiplied by every activation row.
    /// </summary>
    /// <param name="type">The weight format.</param>
    /// <param name="weights">Exactly <paramref name="rows"/> rows of <paramref name="columns"/> values in <paramref name="type"/>, then the format's per-tensor trailer if it has one.</param>
    /// <param name="rows">Number of weight rows (outputs per activation row).</param>
    /// <param name="columns">Values per weight row; a positive multiple of the format's block size.</param>
    /// <param name="x">The activations, <paramref name="batch"/> × <paramref name="columns"/>, row-major.</param>
    /// <param name="y">The results, <paramref name="batch"/> × <paramref name="rows"/>, row-major (at least that many values).</param>
    /// <param name="batch">Number of activation rows.</param>
    /// <param name="maxDegreeOfParallelism">The most threads to split the weight rows across; −1 (the default) for one per processor.</param>
    /// <exception cref="ArgumentException">A shape or length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="batch"/> is negative, or <paramref name="maxDegreeOfParallelism"/> is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be dequantized by this version.</exception>
    public static void MatMulAccurate(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns,
                                      ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        int rowBytes = MatMulDriver.Validate(type, weights, rows, columns, x.Length, y.Length, batch, maxDegreeOfParallelism, out KernelEntry kernel);
        if (rows == 0 || batch == 0)
        {
            return;
        }

        MatMulDriver.RunFloat(kernel, weights, rows, columns, rowBytes, x, y, batch, MatMulDriver.Parts(rows, maxDegreeOfParallelism));
    }
}
