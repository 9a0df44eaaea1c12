using System.Text;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>Sharded checkpoints through <c>model.safetensors.index.json</c>: lookups across shards, lazy opening, hostile indexes.</summary>
public sealed class SafeTensorsCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("safetensors-index-").FullName;

    public SafeTensorsCheckpointTests()
    {
        File.WriteAllBytes(PathOf("model-00001-of-00002.safetensors"),
            Build("{" + Entry("a", "U8", [2], 0, 2) + "," + Entry("b", "I16", [1], 2, 4) + "}", [1, 2, 3, 4]));
        File.WriteAllBytes(PathOf("model-00002-of-00002.safetensors"), Build("{" + Entry("c", "F32", [1], 0, 4) + "}", [0, 0, 0x80, 0x3F]));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private string WriteIndex(string json)
    {
        string path = PathOf(SafeTensorsCheckpoint.IndexFileName);
        File.WriteAllText(path, json, Encoding.UTF8);
        return path;
    }

    private const string Index = """
        {
          "metadata": {"total_size": 8, "format": "pt"},
          "weight_map": {
            "c": "model-00002-of-00002.safetensors",
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00001-of-00002.safetensors"
          }
        }
        """;

    [Fact]
    public void LooksUpTensorsAcrossShards()
    {
        using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(WriteIndex(Index));

        Assert.Equal(["a", "b", "c"], checkpoint.TensorNames);
        Assert.Equal(["model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"], checkpoint.ShardFiles);
        Assert.Equal(8, checkpoint.TotalSize);
        Assert.Equal("pt", checkpoint.Metadata["format"]);
        Assert.Equal("8", checkpoint.Metadata["total_size"]);
        Assert.Equal([3, 4], checkpoint.GetTensorView("b").Span.ToArray());
        var one = new float[1];
        checkpoint.GetTensorView("c").ToSingle(one);
        Assert.Equal(1f, one[0]);
        Assert.True(checkpoint.TryGetTensor("a", out SafeTensorsFile? file, out SafeTensorsTensorInfo? info));
        Assert.Same(file, checkpoint.GetShard("model-00001-of-00002.safetensors"));
        Assert.Equal(SafeTensorsDType.U8, info.DType);
        Assert.False(checkpoint.TryGetTensor("d", out _, out _));
        Assert.Throws<KeyNotFoundException>(() => checkpoint.GetTensorView("d"));
    }

    [Fact]
    public void ShardsOpenOnlyWhenAskedFor()
    {
        // A broken second shard does not stop the index or the first shard from being read.
        File.WriteAllBytes(PathOf("model-00002-of-00002.safetensors"), [1, 2, 3]);
        using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(WriteIndex(Index));
        Assert.Equal([1, 2], checkpoint.GetTensorView("a").Span.ToArray());
        Assert.Throws<InvalidDataException>(() => checkpoint.GetTensorView("c"));
    }

    [Fact]
    public void DisposeClosesEveryShard()
    {
        SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(WriteIndex(Index));
        ReadOnlyMemory<byte> a = checkpoint.GetTensorView("a").Memory;
        checkpoint.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => checkpoint.GetTensorView("a"));
    }

    [Fact]
    public void ASingleFileIsACheckpointOfOneShard()
    {
        using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(PathOf("model-00001-of-00002.safetensors"));
        Assert.Equal(["a", "b"], checkpoint.TensorNames);
        Assert.Null(checkpoint.TotalSize);
        Assert.Equal([1, 2], checkpoint.GetTensorView("a").Span.ToArray());
    }

    public static TheoryData<string, string> HostileIndexes => new()
    {
        { "{\"weight_map\":{\"a\":\"../outside.safetensors\"}}", "not a file name in the index's folder" },
        { "{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "not a file name in the index's folder" },
        { "{\"weight_map\":{\"a\":\"..\"}}", "not a file name in the index's folder" },
        { "{\"weight_map\":{\"a\":1}}", "weight_map['a'] is not a string" },
        { "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", "tensor 'a' appears twice" },
        { "{\"metadata\":{}}", "has no weight_map" },
        { "{\"metadata\":{\"total_size\":-1},\"weight_map\":{}}", "total_size is not a non-negative integer" },
        { "{\"weight_map\":{}", "not valid JSON" },
        { "[]", "not a JSON object" },
    };

    [Theory]
    [MemberData(nameof(HostileIndexes))]
    public void HostileIndexIsRejected(string json, string expected)
    {
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => SafeTensorsCheckpoint.Open(WriteIndex(json)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATensorMissingFromItsShardIsInvalidData()
    {
        using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(WriteIndex("{\"weight_map\":{\"z\":\"model-00002-of-00002.safetensors\"}}"));
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => checkpoint.GetTensorView("z"));
        Assert.Contains("maps tensor 'z' to model-00002-of-00002.safetensors, which does not hold it", ex.Message, StringComparison.Ordinal);
    }
}
