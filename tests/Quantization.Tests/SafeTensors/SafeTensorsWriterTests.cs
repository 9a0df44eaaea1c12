using System.Text;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>The writer's bytes against the reference implementation's published test vectors and hand-written headers; round trips.</summary>
public sealed class SafeTensorsWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Write(Action<SafeTensorsWriter> build)
    {
        using var stream = new MemoryStream();
        using (var writer = new SafeTensorsWriter(stream, leaveOpen: true))
        {
            build(writer);
            writer.Finish();
            Assert.Equal(stream.Length, writer.BytesWritten);
        }

        return stream.ToArray();
    }

    private static byte[] Floats(params float[] values) => [.. values.SelectMany(BitConverter.GetBytes)];

    [Fact]
    public void WritesTheReferenceImplementationsTestVectors()
    {
        Assert.Equal(ReferenceAttn0, Write(w => w.AddTensor("attn.0", SafeTensorsDType.F32, [1, 2, 3], Floats(0, 1, 2, 3, 4, 5))));
        Assert.Equal(ReferenceAttn0Padded, Write(w => w.AddTensor("attn0", SafeTensorsDType.F32, [1, 1, 2, 3], Floats(0, 1, 2, 3, 4, 5))));
        Assert.Equal(ReferenceEmpty, Write(_ => { }));
        Assert.Equal(ReferenceEmptyWithMetadata, Write(w => w.SetMetadata("framework", "pt")));
    }

    [Fact]
    public void OrdersTensorsByDTypeWidestFirstThenNameAndEscapesLikeSerdeJson()
    {
        byte[] bytes = Write(w =>
        {
            w.AddTensor("b", SafeTensorsDType.I8, [2], new byte[] { 1, 2 });
            w.AddTensor("a", SafeTensorsDType.I8, [1], new byte[] { 3 });
            w.AddTensor("z", SafeTensorsDType.F32, [1], Floats(7));
            w.AddTensor("q\"\\\n\u0001é", SafeTensorsDType.BF16, [1], new byte[] { 9, 9 });
            w.AddTensor("\uE000", SafeTensorsDType.U8, [0], Array.Empty<byte>());
            w.AddTensor("\U0001F600", SafeTensorsDType.U8, [0], Array.Empty<byte>());
            w.SetMetadata("k2", "v");
            w.SetMetadata("k1", "tab\there");
        });

        // F32 > BF16 > I8 > U8 in the reference's dtype order; names compared as UTF-8 bytes (U+E000 before U+1F600).
        string expected = "{\"__metadata__\":{\"k1\":\"tab\\there\",\"k2\":\"v\"},"
            + "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"q\\\"\\\\\\n\\u0001é\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
            + "\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[6,7]},"
            + "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[7,9]},"
            + "\"\uE000\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9,9]},"
            + "\"\U0001F600\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9,9]}}";
        int length = Encoding.UTF8.GetByteCount(expected);
        int padded = (length + 7) / 8 * 8;
        byte[] want = Build(expected, [0, 0, 0xE0, 0x40, 9, 9, 3, 1, 2], padded - length);
        Assert.Equal(Encoding.UTF8.GetString(want, 8, padded), Encoding.UTF8.GetString(bytes, 8, padded));
        Assert.Equal(want, bytes);
    }

    [Fact]
    public void RoundTripsEveryDTypeAndMetadata()
    {
        var random = new Random(11);
        var tensors = new List<(string Name, SafeTensorsDType DType, long[] Shape, byte[] Data)>();
        foreach (SafeTensorsDType dtype in SafeTensorsDTypes.All)
        {
            long[] shape = [random.Next(1, 4), 2 * random.Next(1, 5), 4];
            long elements = shape[0] * shape[1] * shape[2];
            var data = new byte[elements * SafeTensorsDTypes.GetBitSize(dtype) / 8];
            random.NextBytes(data);
            tensors.Add(($"layer.{(int)dtype}.{dtype}", dtype, shape, data));
        }

        byte[] bytes = Write(w =>
        {
            foreach (var t in tensors.AsEnumerable().Reverse())
            {
                w.AddTensor(t.Name, t.DType, t.Shape, t.Data);
            }

            w.SetMetadata("format", "pt");
            w.SetMetadata("ünï", "cödé \"x\"");
        });

        Assert.Equal(0, BitConverter.ToInt64(bytes) % 8);
        using SafeTensorsFile file = SafeTensorsFile.Read(bytes);
        Assert.Equal(tensors.Count, file.Tensors.Count);
        foreach (var t in tensors)
        {
            SafeTensorsTensorInfo info = file.GetTensor(t.Name);
            Assert.Equal(t.DType, info.DType);
            Assert.Equal(t.Shape, info.Shape);
            Assert.Equal(t.Data, file.GetTensorView(info).Span.ToArray());
            Assert.Equal(0, (file.DataOffset + info.Begin) % Math.Max(1, SafeTensorsDTypes.GetBitSize(t.DType) / 8)); // aligned to its element size
        }

        Assert.Equal("cödé \"x\"", file.Metadata["ünï"]);
        Assert.Equal(2, file.Metadata.Count);
    }

    [Fact]
    public void CreateWritesAtomicallyAndAnUnfinishedWriterLeavesNothing()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        File.WriteAllText(path, "old");
        using (SafeTensorsWriter writer = SafeTensorsWriter.Create(path))
        {
            writer.AddTensor("t", SafeTensorsDType.U8, [1], new byte[] { 1 });
            Assert.True(File.Exists(path + ".tmp"));
        }

        Assert.Equal("old", File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));

        using (SafeTensorsWriter writer = SafeTensorsWriter.Create(path))
        {
            writer.AddTensor("attn.0", SafeTensorsDType.F32, [1, 2, 3], Floats(0, 1, 2, 3, 4, 5));
            writer.Finish();
        }

        Assert.Equal(ReferenceAttn0, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void RejectsBadTensors()
    {
        using var writer = new SafeTensorsWriter(new MemoryStream());
        writer.AddTensor("t", SafeTensorsDType.F16, [2], new byte[4]);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => writer.AddTensor("t", SafeTensorsDType.F16, [2], new byte[4])).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => writer.AddTensor("__metadata__", SafeTensorsDType.U8, [1], new byte[1])).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => writer.AddTensor("u", SafeTensorsDType.F16, [3], new byte[4])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => writer.AddTensor("u", SafeTensorsDType.F16, [-1], new byte[0])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => writer.AddTensor("u", SafeTensorsDType.F4, [3], new byte[2])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => writer.AddTensor("u", SafeTensorsDType.U8, [1L << 32, 1L << 32], new byte[0])).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => writer.AddTensor("\uD800", SafeTensorsDType.U8, [1], new byte[1])).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => writer.SetMetadata("k", "a\uDC00")).ParamName);
        writer.Finish();
        Assert.Throws<InvalidOperationException>(() => writer.AddTensor("v", SafeTensorsDType.U8, [1], new byte[1]));
    }
}
