using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Quantization.SafeTensors;

/// <summary>The parsed header of a safetensors file: metadata, and the tensors sorted by data offset.</summary>
internal sealed record SafeTensorsLayout(
    long HeaderLength,
    Dictionary<string, string> Metadata,
    List<SafeTensorsTensorInfo> Tensors);

/// <summary>
/// Parses and validates a safetensors header: an 8-byte little-endian length <c>n</c>, then <c>n</c> bytes of UTF-8
/// JSON (padded with spaces), then the data section. The rules are the reference implementation's, with every
/// violation an <see cref="InvalidDataException"/> naming what is wrong, the tensor and the byte offset: the header
/// fits the file and the reference's 100 MB limit; it is one JSON object of tensor entries and an optional
/// <c>__metadata__</c> object of strings; names are unique; each entry's dtype is known, its dimensions are
/// non-negative and their product times the dtype's bits is a whole number of bytes equal to its <c>data_offsets</c>
/// span; sorted by offset the tensors tile the data section from 0 to the end of the file without a gap or overlap.
/// Memory used is proportional to the header, never to a declared size.
/// </summary>
internal static unsafe class SafeTensorsParser
{
    /// <summary>The reference implementation's limit on the header's length.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Bytes of the length prefix.</summary>
    public const int LengthPrefixBytes = 8;

    public const string MetadataKey = "__metadata__";

    private static readonly JsonReaderOptions s_options = new() { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false, MaxDepth = 8 };

    public static SafeTensorsLayout Parse(byte* data, long length)
    {
        if (length < LengthPrefixBytes)
        {
            throw Corrupt(0, $"the file is {length} bytes, shorter than the 8-byte header length");
        }

        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(data, LengthPrefixBytes));
        if (declared > MaxHeaderLength)
        {
            throw Corrupt(0, $"the header length {declared} is larger than the {MaxHeaderLength}-byte limit");
        }

        long headerLength = (long)declared;
        if (headerLength > length - LengthPrefixBytes)
        {
            throw Corrupt(0, $"the header length {headerLength} runs past the end of the {length}-byte file");
        }

        var header = new ReadOnlySpan<byte>(data + LengthPrefixBytes, (int)headerLength);
        CheckUtf8(header);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<SafeTensorsTensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            ReadHeader(header, metadata, tensors, names);
        }
        catch (JsonException ex)
        {
            // Positions are per line; the writers put the header on one line, so the column is the offset there.
            long at = ex.LineNumber is 0 or null ? LengthPrefixBytes + (ex.BytePositionInLine ?? 0) : LengthPrefixBytes;
            throw Corrupt(at, $"the header is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            // GetString on an escaped lone surrogate, which is not text.
            throw Corrupt(LengthPrefixBytes, $"the header holds a string that is not valid Unicode: {ex.Message}");
        }

        CheckDataSection(tensors, LengthPrefixBytes + headerLength, length - LengthPrefixBytes - headerLength);
        return new SafeTensorsLayout(headerLength, metadata, tensors);
    }

    public static InvalidDataException Corrupt(long offset, string message) =>
        new($"Invalid safetensors file: {message} (at byte offset {offset}).");

    private static void CheckUtf8(ReadOnlySpan<byte> header)
    {
        if (System.Text.Unicode.Utf8.IsValid(header))
        {
            return;
        }

        int at = 0;
        while (at < header.Length)
        {
            if (Rune.DecodeFromUtf8(header[at..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                break;
            }

            at += consumed;
        }

        throw Corrupt(LengthPrefixBytes + at, "the header is not valid UTF-8");
    }

    private static void ReadHeader(ReadOnlySpan<byte> header, Dictionary<string, string> metadata, List<SafeTensorsTensorInfo> tensors, HashSet<string> names)
    {
        var reader = new Utf8JsonReader(header, isFinalBlock: true, new JsonReaderState(s_options));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, "the header is not a JSON object");
        }

        bool sawMetadata = false;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long keyOffset = LengthPrefixBytes + reader.TokenStartIndex;
            string name = reader.GetString()!;
            if (name == MetadataKey)
            {
                if (sawMetadata)
                {
                    throw Corrupt(keyOffset, "the header has two __metadata__ entries");
                }

                sawMetadata = true;
                ReadMetadata(ref reader, metadata);
                continue;
            }

            if (!names.Add(name))
            {
                throw Corrupt(keyOffset, $"tensor '{name}' appears twice");
            }

            tensors.Add(ReadTensor(ref reader, name, keyOffset));
        }

        // Only whitespace (the writer's padding) may follow; the reader throws on anything else.
        if (reader.Read())
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, "the header has content after its JSON object");
        }
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (Next(ref reader) != JsonTokenType.StartObject)
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, "__metadata__ is not an object of strings");
        }

        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long keyOffset = LengthPrefixBytes + reader.TokenStartIndex;
            string key = reader.GetString()!;
            if (Next(ref reader) != JsonTokenType.String)
            {
                throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"__metadata__ value '{key}' is a {reader.TokenType}, not a string");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw Corrupt(keyOffset, $"__metadata__ key '{key}' appears twice");
            }
        }
    }

    private static SafeTensorsTensorInfo ReadTensor(ref Utf8JsonReader reader, string name, long keyOffset)
    {
        if (Next(ref reader) != JsonTokenType.StartObject)
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"tensor '{name}' is a {reader.TokenType}, not an object");
        }

        SafeTensorsDType? dtype = null;
        long[]? shape = null;
        long begin = -1, end = -1;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            long fieldOffset = LengthPrefixBytes + reader.TokenStartIndex;
            if (reader.ValueTextEquals("dtype"u8))
            {
                if (dtype is not null)
                {
                    throw Corrupt(fieldOffset, $"tensor '{name}' has two dtypes");
                }

                if (Next(ref reader) != JsonTokenType.String)
                {
                    throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"tensor '{name}': dtype is not a string");
                }

                string text = reader.GetString()!;
                dtype = SafeTensorsDTypes.TryParse(text, out SafeTensorsDType parsed)
                    ? parsed
                    : throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"tensor '{name}' has the unknown dtype '{text}'");
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                if (shape is not null)
                {
                    throw Corrupt(fieldOffset, $"tensor '{name}' has two shapes");
                }

                shape = ReadIntegers(ref reader, name, "shape", -1);
            }
            else if (reader.ValueTextEquals("data_offsets"u8))
            {
                if (begin >= 0)
                {
                    throw Corrupt(fieldOffset, $"tensor '{name}' has two data_offsets");
                }

                long[] offsets = ReadIntegers(ref reader, name, "data_offsets", 2);
                (begin, end) = (offsets[0], offsets[1]);
            }
            else
            {
                // The reference ignores fields it does not know; so does this reader, after checking they are well-formed.
                reader.Skip();
            }
        }

        if (dtype is null || shape is null || begin < 0)
        {
            string missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw Corrupt(keyOffset, $"tensor '{name}' has no {missing}");
        }

        long elements = 1;
        foreach (long d in shape)
        {
            if (d != 0 && elements > long.MaxValue / d)
            {
                throw Corrupt(keyOffset, $"tensor '{name}': the shape {Text(shape)} overflows a 64-bit element count");
            }

            elements *= d;
        }

        // A row's bits must fit too: a zero dimension elsewhere leaves the element count small whatever the last one is.
        long columns = shape.Length == 0 ? 1 : shape[^1];
        if (elements > long.MaxValue / 64 || columns > long.MaxValue / 64)
        {
            throw Corrupt(keyOffset, $"tensor '{name}': the shape {Text(shape)} overflows a 64-bit byte count");
        }

        if (!SafeTensorsDTypes.TryGetByteCount(dtype.Value, elements, out long bytes))
        {
            throw Corrupt(keyOffset, $"tensor '{name}': {elements} values of {SafeTensorsDTypes.GetName(dtype.Value)} are not a whole number of bytes");
        }

        if (end < begin)
        {
            throw Corrupt(keyOffset, $"tensor '{name}': data_offsets [{begin}, {end}] end before they begin");
        }

        if (end - begin != bytes)
        {
            throw Corrupt(keyOffset, $"tensor '{name}': the shape {Text(shape)} of {SafeTensorsDTypes.GetName(dtype.Value)} is {bytes} bytes but data_offsets [{begin}, {end}] hold {end - begin}");
        }

        return new SafeTensorsTensorInfo(name, dtype.Value, shape, begin, end, elements);
    }

    /// <summary>Reads an array of non-negative integers (of exactly <paramref name="count"/> when that is not −1).</summary>
    private static long[] ReadIntegers(ref Utf8JsonReader reader, string name, string field, int count)
    {
        if (Next(ref reader) != JsonTokenType.StartArray)
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"tensor '{name}': {field} is not an array");
        }

        var values = new List<long>(count < 0 ? 4 : count);
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            long at = LengthPrefixBytes + reader.TokenStartIndex;
            if (reader.TokenType != JsonTokenType.Number)
            {
                throw Corrupt(at, $"tensor '{name}': {field} holds a {reader.TokenType}, not an integer");
            }

            if (!reader.TryGetInt64(out long value) || value < 0)
            {
                string text = Encoding.UTF8.GetString(reader.ValueSpan);
                throw Corrupt(at, text.StartsWith('-')
                    ? $"tensor '{name}': {field} holds the negative value {text}"
                    : $"tensor '{name}': {field} holds {text}, not an integer below 2^63");
            }

            values.Add(value);
        }

        if (count >= 0 && values.Count != count)
        {
            throw Corrupt(LengthPrefixBytes + reader.TokenStartIndex, $"tensor '{name}': {field} has {values.Count} values, not {count}");
        }

        return [.. values];
    }

    /// <summary>Sorted by offset (the reference accepts any header order), the tensors must tile the data section exactly.</summary>
    private static void CheckDataSection(List<SafeTensorsTensorInfo> tensors, long dataStart, long dataLength)
    {
        tensors.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        string? previous = null;
        foreach (SafeTensorsTensorInfo t in tensors)
        {
            if (t.Begin != expected)
            {
                throw Corrupt(dataStart, t.Begin < expected
                    ? $"tensor '{t.Name}' at data offset {t.Begin} overlaps tensor '{previous}', which ends at {expected}"
                    : $"tensor '{t.Name}' starts at data offset {t.Begin}, leaving a gap after {(previous is null ? "the header" : $"tensor '{previous}'")}, which ends at {expected}");
            }

            if (t.End > dataLength)
            {
                throw Corrupt(dataStart, $"tensor '{t.Name}' ends at data offset {t.End}, past the end of the {dataLength}-byte data section");
            }

            expected = t.End;
            previous = t.Name;
        }

        if (expected != dataLength)
        {
            throw Corrupt(dataStart, $"the tensors cover {expected} bytes but the data section has {dataLength}");
        }
    }

    /// <summary>Reads the next token; the reader itself rejects malformed JSON and running out of input.</summary>
    private static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw Corrupt(LengthPrefixBytes + reader.BytesConsumed, "the header's JSON ends early");
        }

        return reader.TokenType;
    }

    private static string Text(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
