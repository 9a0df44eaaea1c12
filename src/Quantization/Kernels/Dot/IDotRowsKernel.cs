namespace Quantization.Kernels.Dot;

/// <summary>
/// A dot kernel that also multiplies several consecutive weight rows by one activation row in one pass, loading each
/// activation block once for all of them (the matrix-vector inner loop). Kernels without it run row by row through
/// <see cref="IDotKernel.Dot"/>; <see cref="DotRegistry"/> picks whichever the kernel has.
/// </summary>
internal interface IDotRowsKernel : IDotKernel
{
    /// <summary>
    /// <c>results[r] = Dot(row r of weights, activations, n)</c> for <c>results.Length</c> consecutive weight rows of
    /// <paramref name="rowBytes"/> bytes each. Each result equals <see cref="IDotKernel.Dot"/> of its row to the bit.
    /// </summary>
    static abstract void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results);
}
