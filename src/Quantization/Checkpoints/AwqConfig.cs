using System.Text.Json;

namespace Quantization.Checkpoints;

/// <summary>
/// The parameters of an AutoAWQ checkpoint that decide how its tensors are read (docs/formats.md#awq):
/// <see cref="Parse(ReadOnlySpan{byte})"/> reads AutoAWQ's <c>quant_config.json</c> (<c>w_bit</c>, <c>q_group_size</c>,
/// <c>zero_point</c>, <c>version</c>) or the <c>quantization_config</c> object of a model's <c>config.json</c>
/// (<c>bits</c>, <c>group_size</c>, <c>zero_point</c>, <c>version</c>, <c>quant_method</c> "awq").
/// </summary>
public sealed record AwqConfig
{
    /// <summary>A configuration of the GEMM layout; every parameter is checked.</summary>
    /// <param name="groupSize">Inputs per scale, or −1 for the whole input.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="groupSize"/> is 0 or below −1.</exception>
    public AwqConfig(int groupSize)
    {
        if (groupSize is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "The group size is positive, or -1 for the whole input.");
        }

        GroupSize = groupSize;
    }

    /// <summary>Bits per weight: always 4 (the GEMM layout).</summary>
    public int Bits => AwqMatrix.Bits;

    /// <summary>Inputs per scale, or −1 for the whole input.</summary>
    public int GroupSize { get; }

    /// <summary>
    /// Reads a configuration from UTF-8 JSON. Bits must be 4, <c>zero_point</c> true (the default) and <c>version</c>
    /// "gemm" (any case; the default): the GEMV, Marlin and ExLlama exports pack differently.
    /// </summary>
    /// <param name="utf8Json">The file's bytes.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="InvalidDataException">The JSON is malformed, is not an AWQ GEMM configuration, or holds a value out of range.</exception>
    public static AwqConfig Parse(ReadOnlySpan<byte> utf8Json) => QuantizationConfigJson.Parse(utf8Json, "AWQ", FromConfig);

    /// <summary>Reads a configuration from JSON text (see <see cref="Parse(ReadOnlySpan{byte})"/>).</summary>
    /// <param name="json">The file's text.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="InvalidDataException">The JSON is malformed, is not an AWQ GEMM configuration, or holds a value out of range.</exception>
    public static AwqConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(System.Text.Encoding.UTF8.GetBytes(json));
    }

    private static AwqConfig FromConfig(JsonElement config)
    {
        if (!config.TryGetProperty("w_bit", out JsonElement bits) && !config.TryGetProperty("bits", out bits))
        {
            throw new InvalidDataException("The configuration has no \"w_bit\" or \"bits\".");
        }

        if (ReadInt(bits, "bits") != AwqMatrix.Bits)
        {
            throw new InvalidDataException($"AWQ GEMM layers have 4 bits, not {bits.GetRawText()}.");
        }

        int groupSize = config.TryGetProperty("q_group_size", out JsonElement group) || config.TryGetProperty("group_size", out group)
            ? ReadInt(group, "group_size")
            : throw new InvalidDataException("The configuration has no \"q_group_size\" or \"group_size\".");
        if (config.TryGetProperty("zero_point", out JsonElement zeroPoint) && zeroPoint.ValueKind != JsonValueKind.True)
        {
            throw new InvalidDataException($"zero_point is {zeroPoint.GetRawText()}; only checkpoints with zero points (the GEMM layout) are read.");
        }

        if (config.TryGetProperty("version", out JsonElement version) && !IsString(version, "gemm"))
        {
            throw new InvalidDataException($"version is {version.GetRawText()}; only the GEMM layout is read.");
        }

        try
        {
            return new AwqConfig(groupSize);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static bool IsString(JsonElement element, string value) => QuantizationConfigJson.IsString(element, value);

    private static int ReadInt(JsonElement element, string name) => QuantizationConfigJson.ReadInt(element, name);
}
