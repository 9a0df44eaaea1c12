using System.Text.Json;

namespace Quantization.Checkpoints;

/// <summary>
/// The JSON bitsandbytes packs into a 4-bit weight's <c>weight.quant_state.bitsandbytes__nf4</c> (or <c>__fp4</c>) U8
/// tensor when it saves a <c>Linear4bit</c> layer (docs/formats.md#bitsandbytes-checkpoints): the fields that are not
/// tensors. The tensors (<c>absmax</c>, <c>quant_map</c>, <c>nested_absmax</c>, <c>nested_quant_map</c>) are stored beside it.
/// </summary>
public sealed record BitsAndBytesCheckpointState
{
    /// <summary><see cref="Quantization.QuantType.NF4"/> or <see cref="Quantization.QuantType.FP4"/> (<c>quant_type</c>).</summary>
    public required QuantType QuantType { get; init; }

    /// <summary>Values per absmax block of the flattened tensor (<c>blocksize</c>).</summary>
    public required int BlockSize { get; init; }

    /// <summary>The torch dtype the layer dequantizes to (<c>dtype</c>, e.g. <c>"bfloat16"</c>); informative.</summary>
    public string? DType { get; init; }

    /// <summary>The weight's shape before packing (<c>shape</c>): [outFeatures, inFeatures] for a linear layer.</summary>
    public required IReadOnlyList<int> Shape { get; init; }

    /// <summary>Whether the absmax values are double-quantized (<c>nested_blocksize</c> present).</summary>
    public bool IsNested { get; init; }

    /// <summary>Block size of the 8-bit absmax codes (<c>nested_blocksize</c>); 0 when not nested.</summary>
    public int NestedBlockSize { get; init; }

    /// <summary>The offset added back to the dequantized absmax values (<c>nested_offset</c>); 0 when not nested.</summary>
    public float NestedOffset { get; init; }

    /// <summary>Number of values of the weight: the product of <see cref="Shape"/>.</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (int dimension in Shape)
            {
                count *= dimension;
            }

            return count;
        }
    }

    /// <summary>Reads the packed state (the U8 tensor's bytes: UTF-8 JSON).</summary>
    /// <param name="utf8Json">The tensor's bytes.</param>
    /// <returns>The state.</returns>
    /// <exception cref="InvalidDataException">The JSON is malformed or a field is missing or out of range.</exception>
    public static BitsAndBytesCheckpointState Parse(ReadOnlySpan<byte> utf8Json)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json);
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("A bitsandbytes quant state is a JSON object.");
            }

            QuantType type = Required(root, "quant_type").GetString() switch
            {
                "nf4" => QuantType.NF4,
                "fp4" => QuantType.FP4,
                _ => throw new InvalidDataException($"quant_type is {root.GetProperty("quant_type").GetRawText()}, not \"nf4\" or \"fp4\"."),
            };
            int blockSize = Int(Required(root, "blocksize"), "blocksize");
            JsonElement shapeElement = Required(root, "shape");
            if (shapeElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("shape is not an array.");
            }

            var shape = new List<int>();
            foreach (JsonElement dimension in shapeElement.EnumerateArray())
            {
                int value = Int(dimension, "shape");
                if (value < 0)
                {
                    throw new InvalidDataException($"shape has a negative dimension {value}.");
                }

                shape.Add(value);
            }

            bool nested = root.TryGetProperty("nested_blocksize", out JsonElement nestedBlock);
            float offset = 0;
            if (nested)
            {
                JsonElement offsetElement = Required(root, "nested_offset");
                offset = offsetElement.ValueKind == JsonValueKind.Number
                    ? offsetElement.GetSingle()
                    : throw new InvalidDataException($"nested_offset is {offsetElement.GetRawText()}, not a number.");
            }

            return new BitsAndBytesCheckpointState
            {
                QuantType = type,
                BlockSize = blockSize,
                DType = root.TryGetProperty("dtype", out JsonElement dtype) && dtype.ValueKind == JsonValueKind.String ? dtype.GetString() : null,
                Shape = shape,
                IsNested = nested,
                NestedBlockSize = nested ? Int(nestedBlock, "nested_blocksize") : 0,
                NestedOffset = offset,
            };
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"A field has the wrong JSON type: {e.Message}", e);
        }
    }

    private static JsonElement Required(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) ? value : throw new InvalidDataException($"The quant state has no \"{name}\".");

    private static int Int(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int value)
            ? value
            : throw new InvalidDataException($"\"{name}\" is {element.GetRawText()}, not a 32-bit integer.");
}
