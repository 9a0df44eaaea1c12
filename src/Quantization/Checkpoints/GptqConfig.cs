using System.Text.Json;

namespace Quantization.Checkpoints;

/// <summary>
/// The parameters of a GPTQ checkpoint that decide how its tensors are read: bits, group size, activation order,
/// symmetry and the zero-point convention (docs/formats.md#gptq). <see cref="Parse(ReadOnlySpan{byte})"/> reads them from
/// <c>quantize_config.json</c> or from the <c>quantization_config</c> object of a model's <c>config.json</c>.
/// </summary>
public sealed record GptqConfig
{
    /// <summary>A configuration; every parameter is checked.</summary>
    /// <param name="bits">Bits per weight: 2, 3, 4 or 8.</param>
    /// <param name="groupSize">Input features per scale, or −1 for one scale per output over all inputs.</param>
    /// <param name="descAct">Whether the checkpoint was quantized in activation order (its <c>g_idx</c> may be a permutation).</param>
    /// <param name="symmetric">Whether the quantizer was symmetric (the zero points are stored either way).</param>
    /// <param name="format">The zero-point convention.</param>
    /// <exception cref="ArgumentException">A parameter is out of range.</exception>
    public GptqConfig(int bits, int groupSize, bool descAct = false, bool symmetric = true, GptqCheckpointFormat format = GptqCheckpointFormat.Gptq)
    {
        if (bits is not (2 or 3 or 4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "GPTQ checkpoints have 2, 3, 4 or 8 bits per weight.");
        }

        if (groupSize is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "The group size is positive, or -1 for whole columns.");
        }

        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Not a defined GPTQ checkpoint format.");
        }

        Bits = bits;
        GroupSize = groupSize;
        DescAct = descAct;
        Symmetric = symmetric;
        Format = format;
    }

    /// <summary>Bits per weight: 2, 3, 4 or 8.</summary>
    public int Bits { get; }

    /// <summary>Input features per scale, or −1 for whole columns.</summary>
    public int GroupSize { get; }

    /// <summary>Whether the weights were quantized in activation order (<c>desc_act</c>).</summary>
    public bool DescAct { get; }

    /// <summary>Whether the quantizer was symmetric (<c>sym</c>).</summary>
    public bool Symmetric { get; }

    /// <summary>The zero-point convention (<c>checkpoint_format</c>).</summary>
    public GptqCheckpointFormat Format { get; }

    /// <summary>
    /// Reads a configuration from UTF-8 JSON: a <c>quantize_config.json</c> (the keys at the top level) or a
    /// <c>config.json</c> (the keys inside <c>quantization_config</c>). Keys: <c>bits</c> (required), <c>group_size</c>
    /// (default −1), <c>desc_act</c> (default false), <c>sym</c> (default true), <c>checkpoint_format</c> or <c>format</c>
    /// (<c>"gptq"</c>, the default, or <c>"gptq_v2"</c>); a <c>quant_method</c>, when present, must be <c>"gptq"</c>.
    /// </summary>
    /// <param name="utf8Json">The file's bytes.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="InvalidDataException">The JSON is malformed, is not a GPTQ configuration, or holds a value out of range.</exception>
    public static GptqConfig Parse(ReadOnlySpan<byte> utf8Json) => QuantizationConfigJson.Parse(utf8Json, "GPTQ", FromConfig);

    /// <summary>Reads a configuration from JSON text (see <see cref="Parse(ReadOnlySpan{byte})"/>).</summary>
    /// <param name="json">The file's text.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is null.</exception>
    /// <exception cref="InvalidDataException">The JSON is malformed, is not a GPTQ configuration, or holds a value out of range.</exception>
    public static GptqConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(System.Text.Encoding.UTF8.GetBytes(json));
    }

    private static GptqConfig FromConfig(JsonElement config)
    {
        if (!config.TryGetProperty("bits", out JsonElement bitsElement))
        {
            throw new InvalidDataException("The configuration has no \"bits\".");
        }

        int bits = ReadInt(bitsElement, "bits");
        int groupSize = config.TryGetProperty("group_size", out JsonElement group) ? ReadInt(group, "group_size") : -1;
        bool descAct = config.TryGetProperty("desc_act", out JsonElement desc) && ReadBool(desc, "desc_act", false);
        bool symmetric = !config.TryGetProperty("sym", out JsonElement sym) || ReadBool(sym, "sym", true);
        GptqCheckpointFormat format = GptqCheckpointFormat.Gptq;
        if (config.TryGetProperty("checkpoint_format", out JsonElement formatElement) || config.TryGetProperty("format", out formatElement))
        {
            format = formatElement.ValueKind == JsonValueKind.String ? formatElement.GetString() switch
            {
                "gptq" => GptqCheckpointFormat.Gptq,
                "gptq_v2" => GptqCheckpointFormat.GptqV2,
                _ => throw new InvalidDataException($"Checkpoint format {formatElement.GetRawText()} is not \"gptq\" or \"gptq_v2\"."),
            } : throw new InvalidDataException("The checkpoint format is not a string.");
        }

        try
        {
            return new GptqConfig(bits, groupSize, descAct, symmetric, format);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static bool IsString(JsonElement element, string value) => QuantizationConfigJson.IsString(element, value);

    private static int ReadInt(JsonElement element, string name) => QuantizationConfigJson.ReadInt(element, name);

    private static bool ReadBool(JsonElement element, string name, bool whenNull) => element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => whenNull,
        _ => throw new InvalidDataException($"\"{name}\" is {element.GetRawText()}, not true or false."),
    };
}
