namespace Quantization.Calibration;

/// <summary>
/// Where one element's code lives inside a block of the formats whose elements are coded one by one: at most two bit
/// fields (the low bits, and the high bits some formats keep elsewhere). Writing codes into a block that the
/// format's own quantizer produced keeps its scales and mins, so the result is always valid format bytes.
/// </summary>
internal sealed class ElementCodes
{
    /// <summary>(low byte, low shift, low bits, high byte, high shift, high bits) of element j.</summary>
    private delegate (int LowByte, int LowShift, int LowBits, int HighByte, int HighShift, int HighBits) LocateFn(int j);

    private readonly LocateFn _locate;

    private ElementCodes(int levels, int minCode, bool affine, LocateFn locate)
    {
        Levels = levels;
        MinCode = minCode;
        Affine = affine;
        _locate = locate;
    }

    /// <summary>Codes MinCode .. MinCode + Levels − 1 are used.</summary>
    public int Levels { get; }

    /// <summary>The smallest code (negative for Q8_0's signed bytes).</summary>
    public int MinCode { get; }

    /// <summary>Whether an element's value is v(MinCode) + (code − MinCode)·step with a per-element step (else a table per code).</summary>
    public bool Affine { get; }

    public int Get(ReadOnlySpan<byte> block, int j)
    {
        var (lb, ls, lbits, hb, hs, hbits) = _locate(j);
        int code = (block[lb] >> ls) & ((1 << lbits) - 1);
        if (hbits != 0)
        {
            code |= ((block[hb] >> hs) & ((1 << hbits) - 1)) << lbits;
        }

        return MinCode < 0 ? (sbyte)(byte)code : code;
    }

    public void Set(Span<byte> block, int j, int code)
    {
        var (lb, ls, lbits, hb, hs, hbits) = _locate(j);
        int bits = code & 0xFF;
        int lowMask = (1 << lbits) - 1;
        block[lb] = (byte)((block[lb] & ~(lowMask << ls)) | ((bits & lowMask) << ls));
        if (hbits != 0)
        {
            int highMask = (1 << hbits) - 1;
            block[hb] = (byte)((block[hb] & ~(highMask << hs)) | (((bits >> lbits) & highMask) << hs));
        }
    }

    /// <summary>The layout of <paramref name="type"/>, or null where elements are not coded one by one (lattice, ternary base-3, float formats).</summary>
    public static ElementCodes? For(QuantType type) => type switch
    {
        QuantType.Q4_0 => new(16, 0, true, Nibbles32(2)),
        QuantType.Q4_1 => new(16, 0, true, Nibbles32(4)),
        QuantType.IQ4_NL => new(16, 0, false, Nibbles32(2)),
        QuantType.MXFP4 => new(16, 0, false, Nibbles32(1)),
        QuantType.Q5_0 => new(32, 0, true, FiveBit32(qh: 2, qs: 6)),
        QuantType.Q5_1 => new(32, 0, true, FiveBit32(qh: 4, qs: 8)),
        QuantType.Q8_0 => new(255, -127, true, j => (2 + j, 0, 8, 0, 0, 0)),
        QuantType.Q1_0 => new(2, 0, true, j => (2 + j / 8, j % 8, 1, 0, 0, 0)),
        QuantType.Q2_0 => new(4, 0, true, j => (2 + j / 4, j % 4 * 2, 2, 0, 0, 0)),
        QuantType.TQ2_0 => new(3, 0, true, j => (j / 128 * 32 + j % 32, j % 128 / 32 * 2, 2, 0, 0, 0)),
        QuantType.Q2_K => new(4, 0, true, j => (16 + j / 128 * 32 + j % 32, j % 128 / 32 * 2, 2, 0, 0, 0)),
        QuantType.Q3_K => new(8, 0, true, j => (32 + j / 128 * 32 + j % 32, j % 128 / 32 * 2, 2, j % 32, j / 128 * 4 + j % 128 / 32, 1)),
        QuantType.Q4_K => new(16, 0, true, j => (16 + j / 64 * 32 + j % 32, j % 64 / 32 * 4, 4, 0, 0, 0)),
        QuantType.Q5_K => new(32, 0, true, j => (48 + j / 64 * 32 + j % 32, j % 64 / 32 * 4, 4, 16 + j % 32, j / 64 * 2 + j % 64 / 32, 1)),
        QuantType.Q6_K => new(64, 0, true, j =>
        {
            int h = j / 128, quarter = j % 128 / 32, l = j % 32;
            return (64 * h + l + quarter % 2 * 32, quarter / 2 * 4, 4, 128 + 32 * h + l, 2 * quarter, 2);
        }),
        QuantType.IQ4_XS => new(16, 0, false, j => (8 + j / 32 * 16 + j % 16, j % 32 / 16 * 4, 4, 0, 0, 0)),
        QuantType.NVFP4 => new(16, 0, false, j => (4 + j / 16 * 8 + j % 8, j % 16 / 8 * 4, 4, 0, 0, 0)),
        _ => null,
    };

    /// <summary>32 values in 16 bytes from <paramref name="offset"/>: element j &lt; 16 in the low nibble of byte j, j ≥ 16 in the high nibble of byte j − 16.</summary>
    private static LocateFn Nibbles32(int offset) => j => (offset + j % 16, j / 16 * 4, 4, 0, 0, 0);

    private static LocateFn FiveBit32(int qh, int qs) => j => (qs + j % 16, j / 16 * 4, 4, qh + j / 8, j % 8, 1);
}
