using Quantization.Gguf;

namespace Quantization.Cli.Gguf;

/// <summary>
/// Reads the importance matrix llama.cpp's imatrix tool writes in GGUF form: for every weight a tensor
/// <c>&lt;name&gt;.in_sum2</c> (F32, per-column sums of squared activations, one row per expert) and
/// <c>&lt;name&gt;.counts</c> (F32, the activation rows summed, one per expert). The importance of column i is
/// in_sum2[i] / count, or 1 where the count is 0, as llama-quantize computes it. Also reads the legacy binary
/// <c>.dat</c> format: int32 entry count; per entry an int32 name length, the name, int32 ncall, int32 nval and nval
/// floats (mean x ncall); the importance is value / ncall (the value itself when ncall is 0); then, in later versions,
/// int32 chunk count, int32 data set name length and the name.
/// The provenance llama-quantize records comes along: the first of the GGUF's <c>imatrix.datasets</c> (or the legacy
/// trailer's name), its <c>imatrix.chunk_count</c> (or the trailer's count) and the number of entries.
/// </summary>
internal static class ImatrixFile
{
    private const string DatasetsKey = "imatrix.datasets";
    private const string ChunkCountKey = "imatrix.chunk_count";

    private const string SumsSuffix = ".in_sum2";
    private const string CountsSuffix = ".counts";

    /// <summary>Loads the per-column importance of every 2-D weight the file covers, by weight name.</summary>
    /// <exception cref="InvalidDataException">The file is not a GGUF imatrix, or its tensors are inconsistent.</exception>
    public static ImatrixData Load(string path)
    {
        using (var probe = File.OpenRead(path))
        {
            Span<byte> magic = stackalloc byte[4];
            if (probe.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4
                || System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magic) != GgufConstants.Magic)
            {
                return LoadLegacy(path);
            }
        }

        using GgufFile file = GgufFile.Open(path);
        var importance = new Dictionary<string, float[]>(StringComparer.Ordinal);
        int entries = 0;
        foreach (GgufTensorInfo sums in file.Tensors)
        {
            if (!sums.Name.EndsWith(SumsSuffix, StringComparison.Ordinal))
            {
                continue;
            }

            entries++;

            string weight = sums.Name[..^SumsSuffix.Length];
            if (!file.TryGetTensor(weight + CountsSuffix, out GgufTensorInfo? counts))
            {
                throw new InvalidDataException($"imatrix '{path}': '{sums.Name}' has no '{weight}{CountsSuffix}'.");
            }

            if (sums.Type != QuantType.F32 || counts.Type != QuantType.F32 || counts.ElementCount == 0
                || sums.ElementCount % counts.ElementCount != 0 || sums.RowLength * counts.ElementCount != sums.ElementCount)
            {
                throw new InvalidDataException($"imatrix '{path}': '{weight}' has {sums.Type} sums [{sums.ShapeText}] and {counts.Type} counts [{counts.ShapeText}]; expected F32 [n, m] and F32 [1, m].");
            }

            if (counts.ElementCount != 1)
            {
                continue; // per-expert (3-D) weights: convert quantizes 2-D tensors only
            }

            ReadOnlySpan<float> s = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorData(sums));
            float count = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorData(counts))[0];
            var values = new float[s.Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = count > 0 ? s[i] / count : 1;
            }

            importance[weight] = values;
        }

        if (importance.Count == 0 && !file.Tensors.Any(t => t.Name.EndsWith(SumsSuffix, StringComparison.Ordinal)))
        {
            throw new InvalidDataException($"imatrix '{path}' has no '<name>{SumsSuffix}' tensors; only the GGUF imatrix format is supported.");
        }

        string? dataset = null;
        if (file.TryGetValue(DatasetsKey, out GgufValue? datasets))
        {
            if (!datasets.IsArray || datasets.ElementType != GgufValueType.String)
            {
                throw new InvalidDataException($"imatrix '{path}': '{DatasetsKey}' is {datasets.Type}, not an array of strings.");
            }

            IReadOnlyList<string> names = datasets.AsArray<string>();
            dataset = names.Count > 0 ? names[0] : null;
        }

        int chunks = 0;
        if (file.TryGetValue(ChunkCountKey, out GgufValue? chunkCount))
        {
            chunks = chunkCount.Type == GgufValueType.UInt32
                ? (int)chunkCount.AsUInt32()
                : throw new InvalidDataException($"imatrix '{path}': '{ChunkCountKey}' is {chunkCount.Type}, not UInt32.");
        }

        return new ImatrixData(importance, entries, dataset, chunks);
    }

    private static ImatrixData LoadLegacy(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int position = 0;
        int ReadInt32(string what)
        {
            if (bytes.Length - position < 4)
            {
                throw new InvalidDataException($"imatrix '{path}': the file ends inside {what} (at byte offset {position}).");
            }

            int value = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(position));
            position += 4;
            return value;
        }

        int entries = ReadInt32("the entry count");
        if (entries < 1 || entries > bytes.Length / 12)
        {
            throw new InvalidDataException($"imatrix '{path}': {entries} entries is not a valid count for a legacy imatrix of {bytes.Length} bytes (nor is it GGUF).");
        }

        var importance = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int e = 0; e < entries; e++)
        {
            int nameLength = ReadInt32("a name length");
            if (nameLength < 0 || nameLength > bytes.Length - position)
            {
                throw new InvalidDataException($"imatrix '{path}': entry {e} has a name length of {nameLength} (at byte offset {position - 4}).");
            }

            string name = System.Text.Encoding.UTF8.GetString(bytes, position, nameLength);
            position += nameLength;
            int calls = ReadInt32("a call count");
            int count = ReadInt32("a value count");
            if (count < 0 || count > (bytes.Length - position) / 4)
            {
                throw new InvalidDataException($"imatrix '{path}': entry '{name}' declares {count} values (at byte offset {position - 4}).");
            }

            ReadOnlySpan<float> stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(position, count * 4));
            position += count * 4;
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = calls > 0 ? stored[i] / calls : stored[i];
            }

            importance[name] = values;
        }

        // Later versions end with the chunk count and the data set's name.
        int chunks = 0;
        string? dataset = null;
        if (position < bytes.Length)
        {
            chunks = ReadInt32("the chunk count");
            int datasetLength = ReadInt32("the data set name length");
            if (datasetLength < 0 || datasetLength > bytes.Length - position)
            {
                throw new InvalidDataException($"imatrix '{path}': the data set name length {datasetLength} (at byte offset {position - 4}) does not fit the file.");
            }

            dataset = System.Text.Encoding.UTF8.GetString(bytes, position, datasetLength);
        }

        return new ImatrixData(importance, entries, dataset, chunks);
    }
}

/// <summary>An imatrix file's importance per weight and the provenance llama-quantize records.</summary>
/// <param name="Importance">Per-column importance of every 2-D weight, by weight name.</param>
/// <param name="EntryCount">Entries in the file (3-D per-expert ones included, as llama-quantize counts them).</param>
/// <param name="Dataset">The (first) calibration data set's name, when the file has one.</param>
/// <param name="ChunkCount">Calibration chunks, 0 when the file does not say.</param>
internal sealed record ImatrixData(Dictionary<string, float[]> Importance, int EntryCount, string? Dataset, int ChunkCount)
{
    /// <summary>
    /// The <c>quantize.imatrix.*</c> provenance of a file passed as <paramref name="fileArgument"/>, as llama-quantize
    /// writes it: strings cut to 127 bytes, the chunk count only when positive.
    /// </summary>
    public Quantization.Models.ImportanceSource ToSource(string fileArgument) =>
        new(Truncate(fileArgument), Dataset is null ? null : Truncate(Dataset), EntryCount, ChunkCount > 0 ? ChunkCount : null);

    private static string Truncate(string value)
    {
        const int MaxBytes = 127;
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(value);
        if (utf8.Length <= MaxBytes)
        {
            return value;
        }

        int end = MaxBytes;
        while (end > 0 && (utf8[end] & 0xC0) == 0x80)
        {
            end--; // not inside a character: the cut falls on the start of the one it would split
        }

        return System.Text.Encoding.UTF8.GetString(utf8, 0, end);
    }
}
