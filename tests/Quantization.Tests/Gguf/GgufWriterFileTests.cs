using Quantization.Gguf;

namespace Quantization.Tests.Gguf;

/// <summary><see cref="GgufWriter.Create"/> replaces a file atomically: an unfinished writer leaves nothing behind.</summary>
public sealed class GgufWriterFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gguf-writer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static void Declare(GgufWriter writer)
    {
        writer.SetMetadata("general.architecture", GgufValue.FromString("test"));
        writer.AddTensor("w", QuantType.F32, [64]);
    }

    [Fact]
    public void FinishedFileAppearsWhole()
    {
        string path = PathOf("model.gguf");
        using (GgufWriter writer = GgufWriter.Create(path))
        {
            Declare(writer);
            writer.WriteTensorData(new byte[100]);
            Assert.False(File.Exists(path)); // nothing at the destination until the file is complete
            writer.WriteTensorData(new byte[156]);
            writer.Finish();
        }

        Assert.Equal(["model.gguf"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        using GgufFile file = GgufFile.Open(path);
        Assert.Equal(256, file.GetTensorView("w").ByteCount);
    }

    [Fact]
    public void UnfinishedWriterLeavesNoFileAndKeepsTheOldOne()
    {
        string path = PathOf("model.gguf");
        File.WriteAllBytes(path, [1, 2, 3]);
        using (GgufWriter writer = GgufWriter.Create(path))
        {
            Declare(writer);
            writer.WriteTensorData(new byte[100]);
            Assert.Throws<ArgumentException>(() => writer.WriteTensorData(new byte[1000])); // a failure half way
        }

        Assert.Equal(["model.gguf"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
    }

    [Fact]
    public void FinishReplacesAnExistingFile()
    {
        string path = PathOf("model.gguf");
        File.WriteAllBytes(path, [1, 2, 3]);
        using (GgufWriter writer = GgufWriter.Create(path))
        {
            Declare(writer);
            writer.WriteTensorData(new byte[256]);
            writer.Finish();
            Assert.Throws<InvalidOperationException>(() => writer.WriteTensorData([0]));
        }

        using GgufFile file = GgufFile.Open(path);
        Assert.Equal("test", file.GetString("general.architecture"));
        Assert.Single(Directory.GetFiles(_directory));
    }
}
