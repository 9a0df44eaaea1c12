using Quantization.Gguf;
using Quantization.Oracle;

namespace Quantization.Tests.Gguf;

/// <summary>Files written by ggml's gguf API read back identically here, and files written here load identically in ggml.</summary>
public sealed class GgufInteropTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gguf-interop-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static void RequireGgml()
    {
        if (!GgmlNative.IsByteReference && !GgmlNative.IsAvailable)
        {
            Assert.Skip("native ggml is not loadable here: " + GgmlNative.LoadError);
        }

        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
    }

    [Fact]
    public void FilesWrittenByGgmlReadBackIdentically()
    {
        // Default alignment only: gguf_set_val_u32("general.alignment") does not change the alignment gguf_add_tensor
        // pads with, so ggml itself writes files with another alignment that it then refuses to read.
        RequireGgml();
        GgufSample sample = GgufSample.Create(seed: 3);
        string path = Path.Combine(_dir, "ggml.gguf");
        sample.WriteWithGgml(path);
        GgmlGgufContents theirs = GgmlGguf.Read(path)!;

        using GgufFile file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(theirs.Alignment, file.Alignment);
        Assert.Equal(theirs.DataOffset, file.DataOffset);
        Assert.Equal(sample.Metadata.Count, file.Metadata.Count);
        for (int i = 0; i < sample.Metadata.Count; i++)
        {
            GgufSample.AssertSame(GgufSample.ToGgml(sample.Metadata[i].Key, sample.Metadata[i].Value),
                                  GgufSample.ToGgml(file.Metadata[i].Key, file.Metadata[i].Value));
            Assert.True(sample.Metadata[i].Value.ContentEquals(file.Metadata[i].Value), sample.Metadata[i].Key);
        }

        Assert.Equal(sample.Tensors.Count, file.Tensors.Count);
        for (int i = 0; i < sample.Tensors.Count; i++)
        {
            var expected = sample.Tensors[i];
            GgufTensorInfo actual = file.Tensors[i];
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.Type, actual.Type);
            Assert.Equal(expected.Dims, actual.Dimensions);
            Assert.Equal(theirs.Tensors[i].Offset, actual.Offset);
            Assert.Equal(theirs.Tensors[i].Size, actual.ByteCount);
            Assert.Equal(expected.Data, file.GetTensorData(actual).ToArray());
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData(64u)]
    [InlineData(8u)]
    public void FilesWrittenHereLoadInGgmlIdentically(uint? alignment)
    {
        RequireGgml();
        GgufSample sample = GgufSample.Create(seed: 4, alignment, includeEmptyTensor: true);
        string path = Path.Combine(_dir, "ours.gguf");
        byte[] ours = sample.WriteOurs(chunk: 77);
        File.WriteAllBytes(path, ours);

        GgmlGgufContents? theirs = GgmlGguf.Read(path);
        Assert.NotNull(theirs);
        Assert.Equal(3u, theirs.Version);
        Assert.Equal(alignment ?? 32, theirs.Alignment);
        Assert.Equal(sample.Metadata.Count, theirs.Metadata.Length);
        for (int i = 0; i < sample.Metadata.Count; i++)
        {
            GgufSample.AssertSame(GgufSample.ToGgml(sample.Metadata[i].Key, sample.Metadata[i].Value), theirs.Metadata[i]);
        }

        Assert.Equal(sample.Tensors.Count, theirs.Tensors.Length);
        for (int i = 0; i < sample.Tensors.Count; i++)
        {
            var expected = sample.Tensors[i];
            GgmlTensorEntry t = theirs.Tensors[i];
            Assert.Equal(expected.Name, t.Name);
            Assert.Equal((int)expected.Type, t.Type);
            Assert.Equal(expected.Dims.Concat(Enumerable.Repeat(1L, 4 - expected.Dims.Length)), t.Ne);
            Assert.Equal(expected.Data.Length, t.Size);
            Assert.Equal(expected.Data, ours.AsSpan((int)(theirs.DataOffset + t.Offset), (int)t.Size).ToArray());
        }
    }

    [Fact]
    public void WriterProducesTheSameBytesAsGgml()
    {
        // ggml writes n_dims without trailing ones; the sample's BF16 tensor has inner ones only, so the files can match.
        RequireGgml();
        GgufSample sample = GgufSample.Create(seed: 5);
        string path = Path.Combine(_dir, "ggml.gguf");
        sample.WriteWithGgml(path);

        Assert.Equal(File.ReadAllBytes(path), sample.WriteOurs());
    }

    [Fact]
    public void GgmlRejectsWhatTheReaderRejects()
    {
        // The same corrupt file: ggml refuses it and so do we (the reader is at least as strict).
        RequireGgml();
        byte[] bytes = GgufSample.Create(seed: 6).WriteOurs();
        bytes[3] = (byte)'X'; // magic "GGUX"
        string path = Path.Combine(_dir, "bad.gguf");
        File.WriteAllBytes(path, bytes);

        Assert.Null(GgmlGguf.Read(path));
        Assert.Throws<InvalidDataException>(() => GgufFile.Open(path).Dispose());
    }
}
