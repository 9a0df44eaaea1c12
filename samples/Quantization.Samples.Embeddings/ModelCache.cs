using Quantization.Gguf;
using Quantization.Samples.Embeddings.Onnx;

namespace Quantization.Samples.Embeddings;

/// <summary>The converted model, made once from the package's ONNX file and kept beside the program.</summary>
public static class ModelCache
{
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "model", "arctic-embed-xs.f32.gguf");

    private static readonly Lock s_lock = new();

    /// <summary>The path of the converted GGUF, converting first if it does not exist yet or an older converter made it.</summary>
    public static string GetOrCreate(string? path = null)
    {
        path ??= DefaultPath;
        lock (s_lock)
        {
            if (!IsCurrent(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                Convert(path);
            }
        }

        return path;
    }

    private static bool IsCurrent(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using GgufFile file = GgufFile.Open(path);
            return file.TryGetValue(OnnxToGguf.ConverterVersionKey, out GgufValue? v) && v.AsUInt32() == OnnxToGguf.ConverterVersion;
        }
        catch (InvalidDataException)
        {
            return false; // a damaged or foreign file: convert again
        }
    }

    /// <summary>Converts the package's model to <paramref name="outputPath"/> (replacing it).</summary>
    public static void Convert(string outputPath) => OnnxToGguf.Convert(ModelPackage.DefaultAssemblyPath, outputPath);

    public static GgufFile Open(string? path = null) => GgufFile.Open(GetOrCreate(path));
}
