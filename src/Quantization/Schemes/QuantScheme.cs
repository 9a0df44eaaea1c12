namespace Quantization.Schemes;

/// <summary>What a scheme stores per weight: an integer code of 2–8 bits, or an FP8 code.</summary>
public enum SchemeElement
{
    /// <summary>Unsigned integer codes of <see cref="QuantScheme.Bits"/> bits, dequantized as (code − zero point) · scale.</summary>
    Integer,

    /// <summary>FP8 E4M3FN codes (<see cref="Fp8E4M3"/>), dequantized as value · scale.</summary>
    Fp8E4M3,

    /// <summary>FP8 E5M2 codes (<see cref="Fp8E5M2"/>), dequantized as value · scale.</summary>
    Fp8E5M2,
}

/// <summary>Which weights share one scale (and zero point).</summary>
public enum SchemeGranularity
{
    /// <summary>One scale for the whole tensor.</summary>
    Tensor,

    /// <summary>One scale per row (per output channel).</summary>
    Row,

    /// <summary>One scale per <see cref="QuantScheme.GroupSize"/> consecutive weights of a row (groups along the input dimension).</summary>
    Group,

    /// <summary>One scale per <see cref="QuantScheme.GroupSize"/> × <see cref="QuantScheme.GroupSize"/> tile of the matrix; edge tiles may be partial.</summary>
    Block2D,
}

/// <summary>How the scales are stored.</summary>
public enum SchemeScaleType
{
    /// <summary>IEEE binary32, 4 bytes.</summary>
    F32,

    /// <summary>IEEE binary16, 2 bytes (round to nearest even; a scale above 65504 is stored as 65504).</summary>
    F16,

    /// <summary>bfloat16, 2 bytes (round to nearest even; a scale that would round to ∞ is stored as the largest finite bfloat16).</summary>
    BF16,
}

/// <summary>
/// A parameterised quantization scheme beside the fixed <see cref="QuantType"/>s (docs/formats.md#quantization-schemes):
/// symmetric INT8 per tensor or per output channel, group quantization at 2–8 bits (symmetric, or asymmetric with a zero
/// point as GPTQ / AWQ checkpoints store it), FP8 E4M3FN / E5M2 with per-tensor, per-channel or 2-D block scales.
/// <see cref="SchemeQuantizer"/> quantizes and dequantizes with it; <see cref="SchemeMath"/> and <see cref="SchemeMatrix"/>
/// multiply by the result.
/// </summary>
/// <remarks>
/// Create schemes with the factory methods, which check every parameter; <c>default(QuantScheme)</c> is not a valid scheme
/// and every operation rejects it.
/// </remarks>
public readonly record struct QuantScheme
{
    /// <summary>Smallest group size (a multiple of <see cref="GroupSizeMultiple"/>).</summary>
    public const int MinGroupSize = 16;

    /// <summary>Largest group size.</summary>
    public const int MaxGroupSize = 4096;

    /// <summary>Group sizes are multiples of this, so every group's codes fill whole bytes at every bit width.</summary>
    public const int GroupSizeMultiple = 8;

    private QuantScheme(SchemeElement element, int bits, SchemeGranularity granularity, int groupSize, bool symmetric, SchemeScaleType scaleType)
    {
        Element = element;
        Bits = bits;
        Granularity = granularity;
        GroupSize = groupSize;
        Symmetric = symmetric;
        ScaleType = scaleType;
    }

    /// <summary>The code type.</summary>
    public SchemeElement Element { get; }

    /// <summary>Bits per code: 2–8 for <see cref="SchemeElement.Integer"/>, 8 for FP8; 0 in an invalid (default) scheme.</summary>
    public int Bits { get; }

    /// <summary>Which weights share a scale.</summary>
    public SchemeGranularity Granularity { get; }

    /// <summary>Weights per group (<see cref="SchemeGranularity.Group"/>) or tile side (<see cref="SchemeGranularity.Block2D"/>); 0 otherwise.</summary>
    public int GroupSize { get; }

    /// <summary>
    /// Symmetric: scale = max|w| / (2^(bits−1) − 1), zero point 2^(bits−1) (implicit, not stored). Asymmetric (integer codes
    /// only): scale = (max − min) / (2^bits − 1) over the range widened to include 0, zero point round(−min / scale), stored.
    /// FP8 schemes are always symmetric.
    /// </summary>
    public bool Symmetric { get; }

    /// <summary>How the scales are stored.</summary>
    public SchemeScaleType ScaleType { get; }

    /// <summary>Whether the scheme stores a zero point per scale (asymmetric integer schemes).</summary>
    public bool HasZeroPoints => Element == SchemeElement.Integer && !Symmetric && Bits != 0;

    /// <summary>Symmetric INT8 with one scale for the tensor: scale = max|w| / 127, q = round(w / scale) clipped to ±127.</summary>
    public static QuantScheme Int8PerTensor { get; } = new(SchemeElement.Integer, 8, SchemeGranularity.Tensor, 0, true, SchemeScaleType.F32);

    /// <summary>Symmetric INT8 with one scale per row (output channel).</summary>
    public static QuantScheme Int8PerChannel { get; } = new(SchemeElement.Integer, 8, SchemeGranularity.Row, 0, true, SchemeScaleType.F32);

    /// <summary>An integer scheme of any granularity.</summary>
    /// <param name="bits">Bits per code, 2–8.</param>
    /// <param name="granularity">Which weights share a scale.</param>
    /// <param name="groupSize">For <see cref="SchemeGranularity.Group"/> and <see cref="SchemeGranularity.Block2D"/>: a multiple of 8 from 16 to 4096; otherwise 0.</param>
    /// <param name="symmetric">Symmetric (textbook) or asymmetric with a zero point.</param>
    /// <param name="scaleType">How the scales are stored.</param>
    /// <returns>The scheme.</returns>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it.</exception>
    public static QuantScheme Integer(int bits, SchemeGranularity granularity, int groupSize = 0, bool symmetric = true,
                                      SchemeScaleType scaleType = SchemeScaleType.F32)
    {
        if (bits is < 2 or > 8)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "Integer schemes have 2 to 8 bits per code.");
        }

        ValidateLayout(granularity, groupSize, scaleType);
        return new(SchemeElement.Integer, bits, granularity, groupSize, symmetric, scaleType);
    }

    /// <summary>Group quantization: one scale (and zero point when asymmetric) per <paramref name="groupSize"/> weights of a row.</summary>
    /// <param name="bits">Bits per code, 2–8.</param>
    /// <param name="groupSize">A multiple of 8 from 16 to 4096.</param>
    /// <param name="symmetric">Symmetric (textbook) or asymmetric with a zero point (GPTQ / AWQ).</param>
    /// <param name="scaleType">How the scales are stored.</param>
    /// <returns>The scheme.</returns>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it.</exception>
    public static QuantScheme Group(int bits, int groupSize, bool symmetric = true, SchemeScaleType scaleType = SchemeScaleType.F32) =>
        Integer(bits, SchemeGranularity.Group, groupSize, symmetric, scaleType);

    /// <summary>An FP8 scheme: scale = max|w| / the format's largest value, codes = FP8(w / scale) saturating.</summary>
    /// <param name="element"><see cref="SchemeElement.Fp8E4M3"/> or <see cref="SchemeElement.Fp8E5M2"/>.</param>
    /// <param name="granularity">Which weights share a scale.</param>
    /// <param name="groupSize">For <see cref="SchemeGranularity.Group"/> and <see cref="SchemeGranularity.Block2D"/> (128 for 128 × 128 blocks): a multiple of 8 from 16 to 4096; otherwise 0.</param>
    /// <param name="scaleType">How the scales are stored (float32 by default, as the inverse scales of FP8 checkpoints).</param>
    /// <returns>The scheme.</returns>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it.</exception>
    public static QuantScheme Fp8(SchemeElement element, SchemeGranularity granularity, int groupSize = 0, SchemeScaleType scaleType = SchemeScaleType.F32)
    {
        if (element is not (SchemeElement.Fp8E4M3 or SchemeElement.Fp8E5M2))
        {
            throw new ArgumentOutOfRangeException(nameof(element), element, "An FP8 scheme stores Fp8E4M3 or Fp8E5M2 codes.");
        }

        ValidateLayout(granularity, groupSize, scaleType);
        return new(element, 8, granularity, groupSize, true, scaleType);
    }

    private static void ValidateLayout(SchemeGranularity granularity, int groupSize, SchemeScaleType scaleType)
    {
        if (!Enum.IsDefined(granularity))
        {
            throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "Not a defined granularity.");
        }

        if (!Enum.IsDefined(scaleType))
        {
            throw new ArgumentOutOfRangeException(nameof(scaleType), scaleType, "Not a defined scale type.");
        }

        bool grouped = granularity is SchemeGranularity.Group or SchemeGranularity.Block2D;
        if (grouped && (groupSize < MinGroupSize || groupSize > MaxGroupSize || groupSize % GroupSizeMultiple != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize,
                $"A group or block size is a multiple of {GroupSizeMultiple} from {MinGroupSize} to {MaxGroupSize}.");
        }

        if (!grouped && groupSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, $"{granularity} schemes take no group size (pass 0).");
        }
    }

    /// <summary>A short name: <c>int8-tensor</c>, <c>int8-row</c>, <c>int4-g128-asym</c>, <c>fp8-e4m3-b128</c>, … (scale type appended when not F32).</summary>
    /// <returns>The name.</returns>
    public override string ToString()
    {
        if (Bits == 0)
        {
            return "invalid";
        }

        string element = Element switch
        {
            SchemeElement.Fp8E4M3 => "fp8-e4m3",
            SchemeElement.Fp8E5M2 => "fp8-e5m2",
            _ => $"int{Bits}",
        };
        string granularity = Granularity switch
        {
            SchemeGranularity.Tensor => "tensor",
            SchemeGranularity.Row => "row",
            SchemeGranularity.Group => $"g{GroupSize}",
            _ => $"b{GroupSize}",
        };
        string asym = HasZeroPoints ? "-asym" : "";
        string scale = ScaleType == SchemeScaleType.F32 ? "" : "-" + ScaleType.ToString().ToLowerInvariant();
        return $"{element}-{granularity}{asym}{scale}";
    }

    /// <summary>Throws unless this is a scheme the factories made.</summary>
    internal void ThrowIfInvalid(string paramName)
    {
        if (Bits == 0)
        {
            ThrowHelper.ThrowArgument(paramName, "default(QuantScheme) is not a scheme; create one with QuantScheme's factory methods.");
        }
    }
}
