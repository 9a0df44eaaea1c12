using Quantization.Gguf;

namespace Quantization.Cli.Gguf;

/// <summary>
/// Reads the importance matrix llama.cpp's imatrix tool writes in GGUF form: for every weight a tensor
/// <c>&lt;name&gt;.in_sum2</c> (F32, per-column sums of squared activations, one row per expert) and
/// <c>&lt;name&gt;.counts</c> (F32, the activation rows summed, one per expert). The importance of column i is
/// in_sum2[i] / count, or 1 where the count is 0, as llama-quantize computes it. Also reads the legacy binary
/// <c>.dat</c> format: int32 entry count; per entry an int32 name length, the name, int32 ncall, int32 nval and nval
/// floats (mean x ncall); the importance is value / ncall (the value itself when ncall is 0).
/// </summary>
internal static class ImatrixFile
{
    private const string SumsSuffix = ".in_sum2";
    private const string CountsSuffix = ".counts";

    /// <summary>Loads the per-column importance of every 2-D weight the file covers, by weight name.</summary>
    /// <exception cref="InvalidDataException">The file is not a GGUF imatrix, or its tensors are inconsistent.</exception>
    public static Dictionary<string, float[]> Load(string path)
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
        foreach (GgufTensorInfo sums in file.Tensors)
        {
            if (!sums.Name.EndsWith(SumsSuffix, StringComparison.Ordinal))
            {
                continue;
            }

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

        return importance;
    }

    private static Dictionary<string, float[]> LoadLegacy(string path)
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

        return importance;
    }
}
