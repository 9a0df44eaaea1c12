using System.Security.Cryptography;
using System.Text;
using Quantization.Gguf;

namespace Quantization.Tests.Models;

/// <summary>
/// What llama.cpp's <c>llama_model_quantize</c> wrote for each (model, preset, importance) case of the preset oracle tests
/// (Models/golden-presets.tsv): the tensor types in file order and the SHA-256 of the whole file. The x64 oracle tests
/// check every row against llama.cpp; platforms without the oracle (arm64) check the library's plans and files against it.
/// Regenerate: run the preset oracle tests on x64 with QUANT_WRITE_GOLDEN_PRESETS=FILE, then copy FILE over the .tsv.
/// </summary>
internal static class GoldenPresets
{
    public sealed record Row(string Model, string Preset, bool Importance, string Types, string Sha256)
    {
        public string Key => Keyed(Model, Preset, Importance);
    }

    private static readonly Lazy<Dictionary<string, Row>> s_rows = new(Load);
    private static readonly Lock s_gate = new();

    public static IReadOnlyDictionary<string, Row> Rows => s_rows.Value;

    public static string Keyed(string model, string preset, bool importance) => $"{model}\t{preset}\t{(importance ? 1 : 0)}";

    /// <summary>"name=type;..." in file order.</summary>
    public static string TypesOf(GgufFile file) => string.Join(";", file.Tensors.Select(t => $"{t.Name}={QuantFormat.Get(t.Type).Name}"));

    public static string Sha256Of(string path)
    {
        using FileStream s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>Checks llama.cpp's file for a case against its row; with QUANT_WRITE_GOLDEN_PRESETS set, appends the row there instead.</summary>
    public static void Check(string model, string preset, bool importance, string llamaFile)
    {
        string types, sha = Sha256Of(llamaFile);
        using (GgufFile file = GgufFile.Open(llamaFile))
        {
            types = TypesOf(file);
        }

        var actual = new Row(model, preset, importance, types, sha);
        if (Environment.GetEnvironmentVariable("QUANT_WRITE_GOLDEN_PRESETS") is { Length: > 0 } path)
        {
            lock (s_gate)
            {
                File.AppendAllText(path, $"{model}\t{preset}\t{(importance ? 1 : 0)}\t{types}\t{sha}\n");
            }

            return; // recording: the rows are being regenerated, so there is nothing to compare with yet
        }

        Assert.True(Rows.TryGetValue(actual.Key, out Row? expected), $"No golden row for '{actual.Key.Replace('\t', ' ')}' in Models/golden-presets.tsv.");
        Assert.Equal(expected.Types, actual.Types);
        Assert.Equal(expected.Sha256, actual.Sha256);
    }

    private static Dictionary<string, Row> Load()
    {
        var rows = new Dictionary<string, Row>();
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Models", "golden-presets.tsv"), Encoding.UTF8))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] f = line.Split('\t');
            var row = new Row(f[0], f[1], f[2] == "1", f[3], f[4]);
            rows[row.Key] = row;
        }

        return rows;
    }
}
