namespace Quantization.Models;

/// <summary>The size of a transformer's key/value cache: what a context of tokens costs beside the weights.</summary>
public static class KvCacheBytes
{
    /// <summary>
    /// Whether llama.cpp can hold its key/value cache in <paramref name="type"/> (its <c>--cache-type-k</c> /
    /// <c>--cache-type-v</c> choices): F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL.
    /// </summary>
    public static bool IsSupported(QuantType type) => type is QuantType.F32 or QuantType.F16 or QuantType.BF16
        or QuantType.Q8_0 or QuantType.Q4_0 or QuantType.Q4_1 or QuantType.Q5_0 or QuantType.Q5_1 or QuantType.IQ4_NL;

    /// <summary>
    /// Keys and values of every layer for <paramref name="contextLength"/> tokens: layers × key/value heads × head size
    /// × 2 (keys and values) × context, each row of key/value heads × head size values stored in <paramref name="type"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A count is not positive, the type is no cache type, or the rows do not fit its blocks.</exception>
    public static long Compute(int layers, int kvHeads, int headSize, int contextLength, QuantType type = QuantType.F16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kvHeads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(contextLength);
        if (!IsSupported(type))
        {
            throw new ArgumentException($"{type} is no key/value cache type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL).", nameof(type));
        }

        long row = (long)kvHeads * headSize;
        if (row % QuantFormat.Get(type).BlockSize != 0)
        {
            throw new ArgumentException($"A key/value row of {row} values does not fit {type}'s blocks.", nameof(type));
        }

        return 2L * layers * contextLength * Quantizer.GetByteCount(type, row);
    }
}
