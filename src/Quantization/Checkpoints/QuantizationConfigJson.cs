using System.Text.Json;

namespace Quantization.Checkpoints;

/// <summary>
/// Reading the quantization configurations checkpoints ship (<c>quantize_config.json</c>, or the
/// <c>quantization_config</c> object of <c>config.json</c>): lenient JSON (comments, trailing commas, as the producers'
/// Python writes and people edit), every problem an <see cref="InvalidDataException"/>.
/// </summary>
internal static class QuantizationConfigJson
{
    /// <summary>Parses <paramref name="utf8Json"/> and hands the configuration object (top level or nested) to <paramref name="read"/>.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> utf8Json, string method, Func<JsonElement, T> read)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{(method[0] == 'A' ? "An" : "A")} {method} configuration is a JSON object.");
            }

            JsonElement config = root.TryGetProperty("quantization_config", out JsonElement nested) ? nested : root;
            if (config.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("quantization_config is not a JSON object.");
            }

            if (config.TryGetProperty("quant_method", out JsonElement quantMethod) && !IsString(quantMethod, method))
            {
                throw new InvalidDataException($"quant_method is {quantMethod.GetRawText()}, not \"{method.ToLowerInvariant()}\".");
            }

            return read(config);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Whether <paramref name="element"/> is the string <paramref name="value"/>, ignoring case.</summary>
    public static bool IsString(JsonElement element, string value) =>
        element.ValueKind == JsonValueKind.String && string.Equals(element.GetString(), value, StringComparison.OrdinalIgnoreCase);

    /// <summary>A 32-bit integer, or an <see cref="InvalidDataException"/> naming <paramref name="name"/>.</summary>
    public static int ReadInt(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int value)
            ? value
            : throw new InvalidDataException($"\"{name}\" is {element.GetRawText()}, not a 32-bit integer.");
}
