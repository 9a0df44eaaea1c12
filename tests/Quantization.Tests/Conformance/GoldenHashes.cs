using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Conformance;

/// <summary>
/// FNV-1a hashes of the x64 ggml oracle's output for every conformance case (Conformance/golden-x64/&lt;type&gt;.tsv,
/// one file per type, copied beside the tests). Regenerate on x64 with <c>QUANT_WRITE_GOLDEN=1 dotnet test</c> (the
/// x64 run also asserts every entry against live ggml, so a stale file cannot pass).
/// </summary>
public static class GoldenHashes
{
    public sealed record Entry(string Quantized, string Dequantized);

    private static readonly Lazy<Dictionary<string, Entry>> s_entries = new(Load);

    public static string Format(ulong hash) => hash.ToString("x16");

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Conformance", "golden-x64");

    public static Entry Get(string key)
    {
        Assert.True(s_entries.Value.TryGetValue(key, out Entry? e), $"No golden hash for '{key.Replace('\t', ' ')}': regenerate golden-x64.tsv on x64.");
        return e!;
    }

    private static Dictionary<string, Entry> Load()
    {
        if (Environment.GetEnvironmentVariable("QUANT_WRITE_GOLDEN") == "1" && GgmlNative.IsByteReference)
        {
            Write();
        }

        var map = new Dictionary<string, Entry>();
        foreach (string line in Directory.EnumerateFiles(Folder, "*.tsv").SelectMany(File.ReadLines))
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            string[] p = line.Split('\t');
            map[string.Join('\t', p[..5])] = new Entry(p[5], p[6]);
        }

        return map;
    }

    /// <summary>Writes the file from live ggml into the source tree (found by walking up from the test binaries).</summary>
    private static void Write()
    {
        var files = new Dictionary<QuantType, List<string>>();
        foreach (ConformanceCase c in ConformanceCase.All())
        {
            if (!files.TryGetValue(c.Type, out List<string>? lines))
            {
                files[c.Type] = lines = ["# type\tdataset\trows\trowLength\timportance\tquantized FNV\tdequantized FNV (x64 ggml)"];
            }

            float[] source = c.Source();
            float[] importance = c.ImportanceWeights();
            byte[] bytes = GgmlConformanceTests.Theirs(c, source, importance);
            float[] deq = c.Type == QuantType.Q8_1 ? Q8_1Dequantize(bytes) : GgmlNative.Dequantize((int)c.Type, bytes);
            lines.Add($"{c.Key}\t{Format(Fnv.Hash(bytes))}\t{Format(Fnv.Hash(deq))}");
        }

        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Quantization.Tests.csproj")) && Path.GetDirectoryName(dir) is { } parent)
        {
            dir = Path.GetFullPath(Path.Combine(dir, ".."));
            if (dir == Path.GetPathRoot(dir))
            {
                break;
            }
        }

        foreach ((QuantType type, List<string> lines) in files)
        {
            Directory.CreateDirectory(Folder);
            Directory.CreateDirectory(Path.Combine(dir, "Conformance", "golden-x64"));
            File.WriteAllLines(Path.Combine(dir, "Conformance", "golden-x64", $"{type}.tsv"), lines);
            File.WriteAllLines(Path.Combine(Folder, $"{type}.tsv"), lines);
        }
    }

    private static float[] Q8_1Dequantize(byte[] bytes)
    {
        var y = new float[bytes.Length / 36 * 32];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = (sbyte)bytes[i / 32 * 36 + 4 + i % 32] * (float)BitConverter.ToHalf(bytes, i / 32 * 36);
        }

        return y;
    }
}
