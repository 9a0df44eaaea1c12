namespace Quantization.Kernels.Dot;

/// <summary>
/// A dot kernel of a weight format with a per-tensor trailer (<see cref="QuantFormat.TrailerBytes"/>): the rows hold no
/// scale of their own, so <see cref="IDotKernel.Dot"/> leaves out the tensor's, and the row loop multiplies every row's
/// result by <see cref="TensorScale"/> (bitnet.cpp's I2_S applies its one scale last the same way).
/// </summary>
internal interface ITensorDotKernel : IDotRowsKernel
{
    /// <summary>The factor of every row's <see cref="IDotKernel.Dot"/>, read from the weight tensor's trailer.</summary>
    static abstract float TensorScale(ReadOnlySpan<byte> trailer);
}
