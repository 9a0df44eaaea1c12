using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        var op = new AbsMeanCodeOp(s, 0);
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref float wr = ref MemoryMarshal.GetReference(weights);
            ref sbyte cr = ref MemoryMarshal.GetReference(codes);
            for (; i <= weights.Length - Block32.Size; i += Block32.Size)
            {
                Block32.Codes(ref Unsafe.Add(ref wr, i), op, out Vector128<byte> lo, out Vector128<byte> hi);
                lo.AsSByte().StoreUnsafe(ref cr, (nuint)i);
                hi.AsSByte().StoreUnsafe(ref cr, (nuint)(i + 16));
            }
        }

        for (; i < weights.Length; i++)
        {
            codes[i] = (sbyte)op.Invoke(weights[i]);
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

        // I2_S codes are the absmean codes plus one, packed as bitnet.cpp packs them.
        var op = new AbsMeanCodeOp(s, 1);
        Span<byte> blocks = destination[..(weights.Length / 4)];
        bool anyNonzero = false;
        ref float wr = ref MemoryMarshal.GetReference(weights);
        for (int b = 0; b < weights.Length / I2_SReference.BlockSize; b++)
        {
            ref float xb = ref Unsafe.Add(ref wr, b * I2_SReference.BlockSize);
            Span<byte> qs = blocks.Slice(b * BlockI2_S.Size, BlockI2_S.Size);
            if (Vector128.IsHardwareAccelerated)
            {
                Block32.Codes(ref xb, op, out Vector128<byte> l0, out Vector128<byte> h0);
                Block32.Codes(ref Unsafe.Add(ref xb, 32), op, out Vector128<byte> l1, out Vector128<byte> h1);
                Block32.Codes(ref Unsafe.Add(ref xb, 64), op, out Vector128<byte> l2, out Vector128<byte> h2);
                Block32.Codes(ref Unsafe.Add(ref xb, 96), op, out Vector128<byte> l3, out Vector128<byte> h3);
                Vector128<byte> lo = TernaryBlocks.Pack2Bit(l3, l2, l1, l0), hi = TernaryBlocks.Pack2Bit(h3, h2, h1, h0);
                lo.CopyTo(qs);
                hi.CopyTo(qs[16..]);
                anyNonzero |= lo != Vector128.Create((byte)0x55) || hi != Vector128.Create((byte)0x55); // 0x55: four zero codes
            }
            else
            {
                qs.Clear();
                for (int k = 0; k < I2_SReference.BlockSize; k++)
                {
                    int code = op.Invoke(Unsafe.Add(ref xb, k));
                    anyNonzero |= code != 1;
                    qs[k % 32] |= (byte)(code << (6 - 2 * (k / 32)));
                }
            }
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

}

/// <summary>
/// clamp(round(w·s), −1, 1) + offset, rounding half to even (<c>torch.round</c>): a float32 product, then the vector
/// round instruction in its default to-nearest-even mode, in every lane.
/// </summary>
internal readonly struct AbsMeanCodeOp(float s, int offset) : ICodeOp
{
    public int Invoke(float w) => (int)Math.Clamp(MathF.Round(w * s, MidpointRounding.ToEven), -1f, 1f) + offset;

    public Vector128<int> Invoke(Vector128<float> w) =>
        Vector128.ConvertToInt32(Vector128.Clamp(Vector128.Round(w * Vector128.Create(s)), Vector128.Create(-1f), Vector128<float>.One)) + Vector128.Create(offset);

    public Vector256<int> Invoke(Vector256<float> w) =>
        Vector256.ConvertToInt32(Vector256.Clamp(Vector256.Round(w * Vector256.Create(s)), Vector256.Create(-1f), Vector256<float>.One)) + Vector256.Create(offset);

    public Vector512<int> Invoke(Vector512<float> w) =>
        Vector512.ConvertToInt32(Vector512.Clamp(Vector512.Round(w * Vector512.Create(s)), Vector512.Create(-1f), Vector512<float>.One)) + Vector512.Create(offset);
}
