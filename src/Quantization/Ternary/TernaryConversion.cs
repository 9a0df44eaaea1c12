using Quantization.Formats;
using Quantization.Kernels;

namespace Quantization.Ternary;

/// <summary>
/// Lossless conversion between bitnet.cpp's <see cref="QuantType.I2_S"/> (one float32 scale per tensor) and llama.cpp's
/// <see cref="QuantType.TQ2_0"/> (one FP16 scale per 256 values). Both store 2-bit codes 0, 1, 2 for −1, 0, +1, in
/// mirrored bit order, so the codes map one to one; only the scales decide whether a conversion is exact. A conversion
/// that would change a dequantized value throws instead.
/// </summary>
public static class TernaryConversion
{
    private const int TQ2_0BlockSize = 256;

    /// <summary>Each byte with its four 2-bit fields in reverse order: I2_S keeps element j in bits 7:6, TQ2_0 in bits 1:0.</summary>
    private static readonly byte[] s_reversePairs = BuildReversePairs();

    /// <summary>
    /// Converts an I2_S tensor to TQ2_0. Exact when the tensor scale is exactly representable in FP16: every TQ2_0 block
    /// then stores it as d, and every value dequantizes to the same float bits as before. The unused I2_S code 3 (which
    /// dequantizes to 0) becomes the zero code 1.
    /// </summary>
    /// <param name="source">One whole I2_S tensor: n/4 bytes of codes and the 32-byte trailer, n a multiple of 256.</param>
    /// <param name="destination">At least <see cref="Quantizer.GetByteCount"/>(<see cref="QuantType.TQ2_0"/>, n) bytes.</param>
    /// <returns>n, the number of values converted.</returns>
    /// <exception cref="ArgumentException">A length is wrong, or the scale has no exact FP16 form (nothing is written then).</exception>
    public static int I2SToTQ2_0(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int n = I2SValueCount(source, nameof(source));
        if (n % TQ2_0BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"The I2_S tensor holds {n} values, not a whole number of TQ2_0 blocks of {TQ2_0BlockSize}.");
        }

        CheckDestination(destination, Quantizer.GetByteCount(QuantType.TQ2_0, n));
        float scale = I2_SReference.ReadScale(source[(n / 4)..]);
        ushort d = Fp16.FromSingle(scale);
        if (BitConverter.SingleToInt32Bits(Fp16.ToSingle(d)) != BitConverter.SingleToInt32Bits(scale))
        {
            ThrowHelper.ThrowArgument(nameof(source), $"The I2_S scale {scale:R} has no exact FP16 form (it would become {Fp16.ToSingle(d):R}); TQ2_0 cannot hold it losslessly.");
        }

        for (int b = 0; b < n / TQ2_0BlockSize; b++)
        {
            ReadOnlySpan<byte> codes = source.Slice(b * 64, 64);
            Span<byte> block = destination.Slice(b * BlockTQ2_0.Size, BlockTQ2_0.Size);
            for (int j = 0; j < 64; j++)
            {
                // I2_S code 3 reads as 0: make it TQ2_0's zero code 1 (TQ2_0 would read 3 as +2).
                byte c = codes[j];
                byte threes = (byte)(c & (c >> 1) & 0x55);
                block[j] = s_reversePairs[c & ~(threes << 1)];
            }

            block[64] = (byte)d;
            block[65] = (byte)(d >> 8);
        }

        return n;
    }

    /// <summary>
    /// Converts a TQ2_0 tensor to I2_S. Exact when every block has the same scale d (blocks whose codes are all zero may
    /// have any scale that dequantizes their zeros to the same signed zero), and no value uses TQ2_0's code 3 (+2·d), which
    /// I2_S cannot hold. The I2_S scale is that common d; the 28 padding bytes of the trailer are zero.
    /// </summary>
    /// <param name="source">Whole TQ2_0 blocks.</param>
    /// <param name="destination">At least <see cref="Quantizer.GetByteCount"/>(<see cref="QuantType.I2_S"/>, n) bytes for n values.</param>
    /// <returns>n, the number of values converted.</returns>
    /// <exception cref="ArgumentException">A length is wrong, the blocks' scales differ, or a code is 3 (nothing is written then).</exception>
    public static int TQ2_0ToI2S(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (source.Length % BlockTQ2_0.Size != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"Source length {source.Length} is not a whole number of TQ2_0 blocks of {BlockTQ2_0.Size} bytes.");
        }

        int blocks = source.Length / BlockTQ2_0.Size;
        if (blocks > int.MaxValue / TQ2_0BlockSize)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"{blocks} TQ2_0 blocks hold more than {int.MaxValue} values.");
        }

        int n = blocks * TQ2_0BlockSize;
        CheckDestination(destination, Quantizer.GetByteCount(QuantType.I2_S, n));

        // The common scale: the first block with a nonzero code decides; all-zero blocks only need the same zeros.
        float? common = null;
        for (int b = 0; b < blocks; b++)
        {
            ReadOnlySpan<byte> block = source.Slice(b * BlockTQ2_0.Size, BlockTQ2_0.Size);
            float d = Fp16.ToSingle((ushort)(block[64] | block[65] << 8));
            bool allZero = true;
            for (int j = 0; j < 64; j++)
            {
                byte c = block[j];
                if ((c & (c >> 1) & 0x55) != 0)
                {
                    ThrowHelper.ThrowArgument(nameof(source), $"TQ2_0 block {b} uses code 3 (+2·d) at byte {j}; I2_S holds only −1, 0 and +1.");
                }

                allZero &= c == 0x55;
            }

            if (!allZero)
            {
                common ??= d;
                if (BitConverter.SingleToInt32Bits(d) != BitConverter.SingleToInt32Bits(common.Value))
                {
                    ThrowHelper.ThrowArgument(nameof(source), $"TQ2_0 block {b} has scale {d:R} but an earlier block has {common.Value:R}; I2_S has one scale per tensor, so the conversion would not be lossless.");
                }
            }
        }

        float scale = common ?? (blocks > 0 ? Fp16.ToSingle((ushort)(source[64] | source[65] << 8)) : 0f);
        for (int b = 0; b < blocks; b++)
        {
            ReadOnlySpan<byte> block = source.Slice(b * BlockTQ2_0.Size, BlockTQ2_0.Size);
            float d = Fp16.ToSingle((ushort)(block[64] | block[65] << 8));
            if (BitConverter.SingleToInt32Bits(0f * d) != BitConverter.SingleToInt32Bits(scale * 0f))
            {
                ThrowHelper.ThrowArgument(nameof(source), $"TQ2_0 block {b} (all zeros) has scale {d:R}, whose zeros differ from those of the scale {scale:R}.");
            }
        }

        for (int b = 0; b < blocks; b++)
        {
            ReadOnlySpan<byte> codes = source.Slice(b * BlockTQ2_0.Size, 64);
            Span<byte> i2s = destination.Slice(b * 64, 64);
            for (int j = 0; j < 64; j++)
            {
                i2s[j] = s_reversePairs[codes[j]];
            }
        }

        I2_SReference.WriteTrailer(scale, destination.Slice(n / 4, I2_SReference.TrailerBytes));
        return n;
    }

    private static int I2SValueCount(ReadOnlySpan<byte> source, string paramName)
    {
        int codeBytes = source.Length - I2_SReference.TrailerBytes;
        if (codeBytes < 0 || codeBytes % BlockI2_S.Size != 0)
        {
            ThrowHelper.ThrowArgument(paramName, $"Source length {source.Length} is not whole I2_S blocks of {BlockI2_S.Size} bytes followed by the {I2_SReference.TrailerBytes}-byte trailer.");
        }

        if (codeBytes > int.MaxValue / 4)
        {
            ThrowHelper.ThrowArgument(paramName, $"The I2_S tensor holds more than {int.MaxValue} values.");
        }

        return codeBytes * 4;
    }

    private static void CheckDestination(Span<byte> destination, long needed)
    {
        if (destination.Length < needed)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {needed} are needed.");
        }
    }

    private static byte[] BuildReversePairs()
    {
        var table = new byte[256];
        for (int b = 0; b < 256; b++)
        {
            table[b] = (byte)(((b >> 6) & 3) | (((b >> 4) & 3) << 2) | (((b >> 2) & 3) << 4) | ((b & 3) << 6));
        }

        return table;
    }
}
