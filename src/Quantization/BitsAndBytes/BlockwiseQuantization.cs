namespace Quantization.BitsAndBytes;

/// <summary>
/// bitsandbytes' 8-bit blockwise quantization with a 256-entry code (its <c>quantize_blockwise</c> /
/// <c>dequantize_blockwise</c>), used here for double quantization of 4-bit absmax values.
/// </summary>
public static class BlockwiseQuantization
{
    /// <summary>
    /// The 8-bit "dynamic" code of bitsandbytes' <c>create_dynamic_map(signed, max_exponent_bits: 7, total_bits: 8)</c>:
    /// for i = 0..6, the means of neighbouring points of linspace(0.1, 1, k + 1) scaled by 10^(i − 6), with
    /// k = 2^i values per exponent (2^(i+1) unsigned), negated as well when signed, plus 0 and 1, sorted ascending.
    /// </summary>
    /// <remarks>
    /// Each value is computed in double precision from that definition and rounded once to float32. bitsandbytes builds
    /// the table with float32 torch operations, so an entry may differ from a given torch build's by one unit in the last
    /// place; this is why a bitsandbytes state carries its code (<c>nested_quant_map</c>) and
    /// <see cref="BitsAndBytesQuantState.NestedCode"/> is used as given. Note also that bitsandbytes' CPU quantizer
    /// overwrites entry 0 (−0.99296875) with −1.0 in place before quantizing, so states it makes on CPU carry −1.0 there.
    /// </remarks>
    /// <param name="signed">True for the signed map (127 negative values, 0, 128 positive values up to 1), the one
    /// double quantization uses; false for the unsigned map over [0, 1].</param>
    /// <returns>256 ascending values.</returns>
    public static float[] CreateDynamicMap(bool signed = true)
    {
        var code = new float[256];
        WriteDynamicMap(code, signed);
        return code;
    }

    /// <summary>Writes the 256 values <see cref="CreateDynamicMap(bool)"/> returns into <paramref name="destination"/>, a buffer the caller owns.</summary>
    /// <param name="destination">At least 256 values.</param>
    /// <param name="signed">As for <see cref="CreateDynamicMap(bool)"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has fewer than 256 values.</exception>
    public static void WriteDynamicMap(Span<float> destination, bool signed = true)
    {
        if (destination.Length < 256)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; the map has 256.");
        }

        const int maxExponentBits = 7;
        var data = new List<double>(256);
        for (int i = 0; i < maxExponentBits; i++)
        {
            int k = signed ? 1 << i : 1 << (i + 1); // means per exponent: fraction_items − 1
            double scale = Math.Pow(10, i - (maxExponentBits - 1));
            for (int j = 0; j < k; j++)
            {
                // Mean of linspace(0.1, 1, k + 1)[j] and [j + 1].
                double mean = 0.1 + 0.9 * (j + 0.5) / k;
                data.Add(scale * mean);
                if (signed)
                {
                    data.Add(-scale * mean);
                }
            }
        }

        data.Add(0);
        data.Add(1.0);
        int n = 0;
        foreach (double v in data.Order())
        {
            destination[n++] = (float)v;
        }
    }

    /// <summary>
    /// Quantizes <paramref name="source"/> in blocks of <paramref name="blockSize"/> values (the last one may be
    /// partial) to one byte each, with the rule of bitsandbytes' CPU quantizer (<c>quantize_block</c>): absmax = max |x|,
    /// n = x / absmax (a float32 division), the index i of the last code ≤ n (0 below the first), then i + 1 if
    /// |n − code[i + 1]| &lt; |n − code[i]| in float32 (ties stay at i). A block whose absmax is 0 gets the index of the code
    /// nearest 0 (bitsandbytes' 0 / 0 would give NaN).
    /// </summary>
    /// <remarks>
    /// This is the rule of the native CPU kernel, which bitsandbytes runs for float32 input on CPU (as the absmax values
    /// of double quantization are). Its pure-torch default backend instead multiplies by 1 / absmax and takes the first
    /// argmin of |n − code| over all 256 codes; the two can differ by one code for values within a few units in the last
    /// place of a midpoint.
    /// </remarks>
    /// <param name="source">The values; every one must be finite.</param>
    /// <param name="code">256 ascending code values (e.g. <see cref="CreateDynamicMap(bool)"/>).</param>
    /// <param name="blockSize">Values per block, positive.</param>
    /// <param name="destination">At least <c>source.Length</c> bytes.</param>
    /// <param name="absmax">At least ⌈<c>source.Length</c> / <paramref name="blockSize"/>⌉ floats.</param>
    /// <exception cref="ArgumentException">A length is wrong, or a value is NaN or infinite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blockSize"/> is not positive.</exception>
    public static void Quantize(ReadOnlySpan<float> source, ReadOnlySpan<float> code, int blockSize, Span<byte> destination, Span<float> absmax)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ValidateCode(code);
        int blocks = BlockCount(source.Length, blockSize);
        if (destination.Length < source.Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {source.Length} are needed.");
        }

        if (absmax.Length < blocks)
        {
            ThrowHelper.ThrowArgument(nameof(absmax), $"Absmax has room for {absmax.Length} values; {blocks} are needed.");
        }

        Kernels.FiniteCheck.ThrowIfNotFinite(source, nameof(source));
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            ReadOnlySpan<float> x = source.Slice(start, Math.Min(blockSize, source.Length - start));
            float max = 0;
            foreach (float v in x)
            {
                max = MathF.Max(max, MathF.Abs(v));
            }

            absmax[b] = max;
            for (int i = 0; i < x.Length; i++)
            {
                destination[start + i] = Nearest(code, max != 0 ? x[i] / max : 0f);
            }
        }
    }

    /// <summary>The rule of bitsandbytes' <c>quantize_block</c>: binary search to the left, then the nearer neighbour.</summary>
    internal static byte Nearest(ReadOnlySpan<float> code, float n)
    {
        int lo = 0, hi = code.Length; // index of the first code > n
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (code[mid] <= n)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        int idx = Math.Max(lo - 1, 0);
        if (idx < code.Length - 1 && MathF.Abs(n - code[idx + 1]) < MathF.Abs(n - code[idx]))
        {
            idx++;
        }

        return (byte)idx;
    }

    /// <summary>
    /// destination[i] = code[source[i]] · absmax[i / blockSize] in float32, as bitsandbytes' <c>dequantize_blockwise</c>.
    /// </summary>
    /// <param name="source">The byte codes; the element count is <c>source.Length</c>.</param>
    /// <param name="absmax">Exactly ⌈<c>source.Length</c> / <paramref name="blockSize"/>⌉ block scales.</param>
    /// <param name="code">256 code values.</param>
    /// <param name="blockSize">Values per block, positive.</param>
    /// <param name="destination">At least <c>source.Length</c> floats.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blockSize"/> is not positive.</exception>
    public static void Dequantize(ReadOnlySpan<byte> source, ReadOnlySpan<float> absmax, ReadOnlySpan<float> code, int blockSize, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ValidateCode(code);
        int blocks = BlockCount(source.Length, blockSize);
        if (absmax.Length != blocks)
        {
            ThrowHelper.ThrowArgument(nameof(absmax), $"Absmax has {absmax.Length} values; {source.Length} codes in blocks of {blockSize} need {blocks}.");
        }

        if (destination.Length < source.Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {source.Length} are needed.");
        }

        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = code[source[i]] * absmax[i / blockSize];
        }
    }

    internal static int BlockCount(int elementCount, int blockSize) => (int)(((long)elementCount + blockSize - 1) / blockSize);

    private static void ValidateCode(ReadOnlySpan<float> code)
    {
        if (code.Length != 256)
        {
            ThrowHelper.ThrowArgument(nameof(code), $"An 8-bit code has 256 values, not {code.Length}.");
        }
    }
}
