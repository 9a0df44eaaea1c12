using Quantization.Gguf;
using Quantization.Samples.Embeddings.Onnx;

namespace Quantization.Samples.Embeddings;

/// <summary>The converted model, made once from the package's ONNX file and kept beside the program.</summary>
public static class ModelCache
{
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "model", "arctic-embed-xs.f32.gguf");

    private static readonly Lock s_lock = new();

    /// <summary>The path of the converted GGUF, converting first if it does not exist yet.</summary>
    public static string GetOrCreate(string? path = null)
    {
        path ??= DefaultPath;
        lock (s_lock)
        {
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                Convert(path);
            }
        }

        return path;
    }

    /// <summary>Converts the package's model to <paramref name="outputPath"/> (replacing it).</summary>
    public static void Convert(string outputPath) => OnnxToGguf.Convert(ModelPackage.DefaultAssemblyPath, outputPath);

    public static GgufFile Open(string? path = null) => GgufFile.Open(GetOrCreate(path));
}
