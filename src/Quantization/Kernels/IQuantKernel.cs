namespace Quantization.Kernels;

/// <summary>
/// The kernels of one format. Every format has a scalar reference (a plain port of ggml's C, the test oracle)
/// and a fast path that must produce the same bytes and floats on every instruction-set tier.
/// Row loops, validation and dispatch are written once in <see cref="KernelRegistry"/> and <see cref="Quantizer"/>.
/// The fast paths assume Vector128 hardware: callers reach them through a <see cref="KernelEntry"/>, which hands out the
/// reference instead on a process without it.
/// </summary>
internal interface IQuantKernel : IFastKernel
{
    /// <summary>The scalar reference of <see cref="IFastKernel.QuantizeRow"/>.</summary>
    static abstract void QuantizeRowReference(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance);

    /// <summary>The scalar reference of <see cref="IFastKernel.Dequantize"/>.</summary>
    static abstract void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination);
}

/// <summary>
/// The fast paths of one format, without its scalar references: the format registers those beside it
/// (<see cref="KernelEntry.Create{TKernel}(QuantizeRowFn, DequantizeFn)"/>), so a kernel does not forward to them.
/// </summary>
internal interface IFastKernel
{
    static abstract QuantType Type { get; }

    /// <summary>Quantizes one row (a whole number of blocks); <paramref name="importance"/> is empty or one weight per value of the row.</summary>
    static abstract void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance);

    /// <summary>Dequantizes whole blocks; <paramref name="destination"/> holds exactly their values.</summary>
    static abstract void Dequantize(ReadOnlySpan<byte> source, Span<float> destination);
}
