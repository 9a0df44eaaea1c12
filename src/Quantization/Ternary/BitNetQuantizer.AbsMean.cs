using Quantization.Formats;
using Quantization.Kernels;

namespace Quantization.Ternary;

/// <summary>
/// BitNet b1.58's quantizers: the absmean weight quantizer (one scale per tensor, codes −1, 0, +1) and the per-token
/// int8 activation quantizer of bitnet.cpp's CPU inference, with their rounding rules pinned down.
/// </summary>
public static partial class BitNetQuantizer
{
    /// <summary>The floor of the mean absolute value (BitNet's <c>clamp(min=1e-5)</c>), as float32.</summary>
    public const float MinimumMeanAbsolute = 1e-5f;

    /// <summary>
    /// Quantizes a weight tensor to ternary codes with BitNet b1.58's absmean rule:
    /// <c>s = 1 / max(mean|W|, 1e-5)</c>, <c>code = clamp(round(W·s), −1, 1)</c>; the weight a code stands for is <c>code / s</c>.
    /// </summary>
    /// <param name="weights">The whole tensor (the scale is shared by all of it); every value must be finite.</param>
    /// <param name="codes">At least <c>weights.Length</c> codes, each −1, 0 or +1.</param>
    /// <returns>The multiplier s, a float32: <c>1f / max(mean, 1e-5f)</c>.</returns>
    /// <remarks>
    /// Arithmetic, so that the result does not depend on the processor: Σ|W| is accumulated in double in index order,
    /// the mean is that sum divided by the count in double and then rounded to float32; the floor and 1/x are float32;
    /// W·s is a float32 product rounded half to even (<c>torch.round</c>), so W·s = ±0.5 gives 0. An empty tensor has
    /// mean 0 and so s = 10⁵. BitNet's <c>weight.abs().mean()</c> sums in a vectorised order and may differ from this
    /// mean in the last bit.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="codes"/> is too short, or a weight is NaN or infinite.</exception>
    public static float QuantizeAbsMean(ReadOnlySpan<float> weights, Span<sbyte> codes)
    {
        if (codes.Length < weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(codes), $"Codes has room for {codes.Length} values; {weights.Length} are needed.");
        }

        FiniteCheck.ThrowIfNotFinite(weights, nameof(weights));
        float s = AbsMeanMultiplier(weights);
        for (int i = 0; i < weights.Length; i++)
        {
            codes[i] = AbsMeanCode(weights[i], s);
        }

        return s;
    }

    /// <summary>
    /// Quantizes a weight tensor with <see cref="QuantizeAbsMean"/> and stores it as <see cref="QuantType.I2_S"/>: the bytes
    /// bitnet.cpp's converter produces from the absmean-quantized values <c>code / s</c> (its I2_S scale is their
    /// maximum magnitude, <c>1f / s</c>, or 0 when every code is 0).
    /// </summary>
    /// <param name="weights">The whole tensor; a whole number of 128-value blocks, every value finite.</param>
    /// <param name="destination">At least <see cref="Quantizer.GetByteCount"/>(<see cref="QuantType.I2_S"/>, <c>weights.Length</c>) bytes.</param>
    /// <returns>The multiplier s, as <see cref="QuantizeAbsMean"/> returns it.</returns>
    /// <exception cref="ArgumentException">A length is wrong, or a weight is NaN or infinite.</exception>
    public static float QuantizeAbsMeanToI2S(ReadOnlySpan<float> weights, Span<byte> destination)
    {
        if (weights.Length % I2_SReference.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"{weights.Length} values are not a whole number of I2_S blocks of {I2_SReference.BlockSize}.");
        }

        long needed = Quantizer.GetByteCount(QuantType.I2_S, weights.Length);
        if (destination.Length < needed)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {needed} are needed.");
        }

        FiniteCheck.ThrowIfNotFinite(weights, nameof(weights));
        float s = AbsMeanMultiplier(weights);
        bool anyNonzero = false;
        Span<byte> blocks = destination[..(weights.Length / 4)];
        blocks.Clear();
        for (int i = 0; i < weights.Length; i++)
        {
            int code = AbsMeanCode(weights[i], s);
            anyNonzero |= code != 0;
            int block = i / I2_SReference.BlockSize, k = i % I2_SReference.BlockSize;
            blocks[block * 32 + k % 32] |= (byte)((code + 1) << (6 - 2 * (k / 32)));
        }

        I2_SReference.WriteTrailer(anyNonzero ? 1f / s : 0f, destination.Slice(blocks.Length, I2_SReference.TrailerBytes));
        return s;
    }

    private static float AbsMeanMultiplier(ReadOnlySpan<float> weights)
    {
        double sum = 0;
        foreach (float w in weights)
        {
            sum += Math.Abs(w);
        }

        float mean = weights.IsEmpty ? 0f : (float)(sum / weights.Length);
        return 1f / Math.Max(mean, MinimumMeanAbsolute);
    }

    private static sbyte AbsMeanCode(float w, float s) => (sbyte)Math.Clamp(MathF.Round(w * s, MidpointRounding.ToEven), -1f, 1f);
}
