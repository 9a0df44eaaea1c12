namespace Quantization.Kernels;

/// <summary>
/// The kernels of a format with parameters shared by the whole tensor, stored once after the last row in
/// <see cref="QuantFormat.TrailerBytes"/> bytes (bitnet.cpp's I2_S: one float32 scale). Rows are still whole blocks, but
/// what goes into them depends on every value of the tensor, so quantization is two steps that the generic drivers keep
/// apart: <see cref="QuantizeTrailer"/> sees the whole tensor once and writes the trailer, then <see cref="QuantizeRow"/>
/// quantizes each row (in any order, on any thread) from that trailer. Rows split across threads therefore give the
/// bytes of the whole tensor quantized at once. As with <see cref="IQuantKernel"/>, the fast paths assume Vector128
/// hardware and callers reach them through a <see cref="KernelEntry"/>.
/// </summary>
internal interface ITensorQuantKernel
{
    static abstract QuantType Type { get; }

    /// <summary>Computes the shared parameters from every value of <paramref name="tensor"/> and writes the whole trailer.</summary>
    static abstract void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer);

    /// <summary>Quantizes one row (a whole number of blocks) with the parameters in <paramref name="trailer"/>.</summary>
    static abstract void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<byte> trailer);

    /// <summary>The scalar reference of <see cref="QuantizeRow"/>.</summary>
    static abstract void QuantizeRowReference(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<byte> trailer);

    /// <summary>Dequantizes whole blocks with the parameters in <paramref name="trailer"/>; <paramref name="destination"/> holds exactly their values.</summary>
    static abstract void Dequantize(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination);

    /// <summary>The scalar reference of <see cref="Dequantize"/>.</summary>
    static abstract void DequantizeReference(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination);
}
