using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Quantization.SafeTensors;

/// <summary>
/// A checkpoint of one or more safetensors files: a sharded one through its <c>model.safetensors.index.json</c>
/// (<c>weight_map</c>: tensor name → shard file in the same folder; <c>metadata.total_size</c>), or a single file.
/// Opening reads the index only; each shard is opened (header only, memory-mapped) the first time one of its tensors
/// is asked for. <see cref="Dispose"/> closes every shard opened.
/// </summary>
/// <remarks>Thread-safe. A tensor the index maps to a shard that does not hold it is an <see cref="InvalidDataException"/> when looked up.</remarks>
public sealed class SafeTensorsCheckpoint : IDisposable
{
    /// <summary>The conventional name of a sharded checkpoint's index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    // An index lists names and file names; one larger than this is not an index.
    private const long MaxIndexBytes = 100_000_000;

    private readonly string _directory;
    private readonly Dictionary<string, string> _weightMap;
    private readonly Dictionary<string, SafeTensorsFile> _opened = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _disposed;

    private SafeTensorsCheckpoint(string directory, Dictionary<string, string> weightMap, IReadOnlyList<string> shards,
                                  IReadOnlyDictionary<string, string> metadata, long? totalSize, string source)
    {
        _directory = directory;
        _weightMap = weightMap;
        ShardFiles = shards;
        Metadata = metadata;
        TotalSize = totalSize;
        Source = source;
        TensorNames = [.. weightMap.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>The index (or single file) the checkpoint was opened from.</summary>
    public string Source { get; }

    /// <summary>The shard files, in order of first appearance in the index (one for a single file).</summary>
    public IReadOnlyList<string> ShardFiles { get; }

    /// <summary>Every tensor name, sorted ordinally.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    /// <summary>The index's <c>metadata</c> object, each value as text (raw JSON for non-strings); empty for a single file.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary><c>metadata.total_size</c>: the bytes of tensor data the index says the shards hold, when it says.</summary>
    public long? TotalSize { get; }

    /// <summary>
    /// Opens <paramref name="path"/>: an index file (any name ending in <c>.json</c>) or a single <c>.safetensors</c>
    /// file, which becomes a checkpoint of one shard (opened at once).
    /// </summary>
    /// <exception cref="InvalidDataException">The index is not valid, or names a shard outside its folder.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SafeTensorsCheckpoint Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        if (!full.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            SafeTensorsFile file = SafeTensorsFile.Open(full);
            string shard = Path.GetFileName(full);
            var map = file.Tensors.ToDictionary(t => t.Name, _ => shard, StringComparer.Ordinal);
            var single = new SafeTensorsCheckpoint(directory, map, [shard], new Dictionary<string, string>(), null, full);
            single._opened.Add(shard, file);
            return single;
        }

        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (stream.Length > MaxIndexBytes)
        {
            throw Corrupt($"the index is {stream.Length} bytes, more than the {MaxIndexBytes}-byte limit");
        }

        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Parse(bytes, directory, full);
    }

    /// <summary>Finds the shard and entry of the tensor named <paramref name="name"/>, opening its shard if needed.</summary>
    /// <exception cref="InvalidDataException">The shard is not a valid safetensors file, or does not hold the tensor.</exception>
    /// <exception cref="IOException">The shard cannot be opened.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint was disposed.</exception>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out SafeTensorsFile? file, [NotNullWhen(true)] out SafeTensorsTensorInfo? tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        file = null;
        tensor = null;
        if (!_weightMap.TryGetValue(name, out string? shard))
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return false;
        }

        file = GetShard(shard);
        if (!file.TryGetTensor(name, out tensor))
        {
            throw Corrupt($"the index maps tensor '{name}' to {shard}, which does not hold it");
        }

        return true;
    }

    /// <summary>A zero-copy view of the tensor named <paramref name="name"/>, opening its shard if needed.</summary>
    /// <exception cref="KeyNotFoundException">The index has no tensor of that name.</exception>
    /// <exception cref="InvalidDataException">The shard is not a valid safetensors file, or does not hold the tensor.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint was disposed.</exception>
    public SafeTensorsTensorView GetTensorView(string name) =>
        TryGetTensor(name, out SafeTensorsFile? file, out SafeTensorsTensorInfo? tensor)
            ? file.GetTensorView(tensor)
            : throw new KeyNotFoundException($"The checkpoint has no tensor '{name}'.");

    /// <summary>The shard file named <paramref name="shard"/> (one of <see cref="ShardFiles"/>), opened on first use.</summary>
    /// <exception cref="ArgumentException"><paramref name="shard"/> is not one of the checkpoint's shards.</exception>
    /// <exception cref="InvalidDataException">The shard is not a valid safetensors file.</exception>
    /// <exception cref="ObjectDisposedException">The checkpoint was disposed.</exception>
    public SafeTensorsFile GetShard(string shard)
    {
        ArgumentNullException.ThrowIfNull(shard);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_opened.TryGetValue(shard, out SafeTensorsFile? file))
            {
                return file;
            }

            if (!ShardFiles.Contains(shard, StringComparer.Ordinal))
            {
                ThrowHelper.ThrowArgument(nameof(shard), $"'{shard}' is not one of the checkpoint's shards.");
            }

            file = SafeTensorsFile.Open(Path.Combine(_directory, shard));
            _opened.Add(shard, file);
            return file;
        }
    }

    /// <summary>Closes every shard opened; views and memory from them throw <see cref="ObjectDisposedException"/> from then on.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (SafeTensorsFile file in _opened.Values)
            {
                file.Dispose();
            }

            _opened.Clear();
        }
    }

    /// <summary>Parses an index held in memory; shards are looked up in <paramref name="directory"/>.</summary>
    internal static SafeTensorsCheckpoint Parse(ReadOnlySpan<byte> json, string directory, string source)
    {
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var shards = new List<string>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        long? totalSize = null;
        bool sawMap = false, sawMetadata = false;
        if (json.StartsWith("\uFEFF"u8))
        {
            json = json[3..]; // a byte-order mark some editors add; JSON itself has none
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            Expect(ref reader, JsonTokenType.StartObject, "the index is not a JSON object");
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                if (reader.ValueTextEquals("weight_map"u8))
                {
                    sawMap = sawMap ? throw Corrupt("the index has two weight_map entries") : true;
                    Expect(ref reader, JsonTokenType.StartObject, "weight_map is not an object");
                    while (Next(ref reader) != JsonTokenType.EndObject)
                    {
                        string name = reader.GetString()!;
                        Expect(ref reader, JsonTokenType.String, $"weight_map['{name}'] is not a string");
                        string shard = reader.GetString()!;
                        CheckShardName(name, shard);
                        if (!weightMap.TryAdd(name, shard))
                        {
                            throw Corrupt($"tensor '{name}' appears twice in weight_map");
                        }

                        if (!shards.Contains(shard, StringComparer.Ordinal))
                        {
                            shards.Add(shard);
                        }
                    }
                }
                else if (reader.ValueTextEquals("metadata"u8))
                {
                    sawMetadata = sawMetadata ? throw Corrupt("the index has two metadata entries") : true;
                    Expect(ref reader, JsonTokenType.StartObject, "metadata is not an object");
                    while (Next(ref reader) != JsonTokenType.EndObject)
                    {
                        string key = reader.GetString()!;
                        Next(ref reader);
                        if (key == "total_size")
                        {
                            // Producers write an integer; some write it as a float with no fraction.
                            totalSize = reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double size) && size >= 0 && size < 9.2e18 && size == Math.Floor(size)
                                ? (long)size
                                : throw Corrupt("metadata.total_size is not a non-negative integer");
                        }

                        string text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : RawValue(ref reader, json);
                        metadata[key] = text;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.Read())
            {
                throw Corrupt("the index has content after its JSON object");
            }
        }
        catch (JsonException ex)
        {
            throw Corrupt($"the index is not valid JSON: {ex.Message.TrimEnd('.')}");
        }
        catch (InvalidOperationException ex)
        {
            throw Corrupt($"the index holds a string that is not valid Unicode: {ex.Message}");
        }

        if (!sawMap)
        {
            throw Corrupt("the index has no weight_map");
        }

        return new SafeTensorsCheckpoint(directory, weightMap, shards, metadata, totalSize, source);
    }

    /// <summary>Shards live next to the index: a bare file name, never a path that could lead elsewhere.</summary>
    private static void CheckShardName(string tensor, string shard)
    {
        if (shard.Length == 0 || shard is "." or ".." || shard.AsSpan().IndexOfAny('/', '\\', ':') >= 0 || shard.Contains('\0', StringComparison.Ordinal))
        {
            throw Corrupt($"weight_map['{tensor}'] is '{shard}', not a file name in the index's folder");
        }
    }

    private static string RawValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        long start = reader.TokenStartIndex;
        reader.Skip();
        long end = reader.TokenStartIndex + (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray ? 1 : reader.ValueSpan.Length);
        return System.Text.Encoding.UTF8.GetString(json[(int)start..(int)end]);
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string problem)
    {
        if (Next(ref reader) != type)
        {
            throw Corrupt(problem);
        }
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw Corrupt("the index's JSON ends early");

    private static InvalidDataException Corrupt(string message) => new($"Invalid safetensors index: {message}.");
}
