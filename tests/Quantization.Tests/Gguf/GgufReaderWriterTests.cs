using Quantization.Gguf;
using Quantization.Tests.Support;

namespace Quantization.Tests.Gguf;

public sealed class GgufReaderWriterTests
{
    [Fact]
    public void RoundTripKeepsMetadataTensorsAndBytes()
    {
        GgufSample sample = GgufSample.Create(seed: 9, includeEmptyTensor: true);
        using GgufFile file = GgufFile.Read(sample.WriteOurs(chunk: 13));

        Assert.Equal(sample.Metadata.Select(kv => kv.Key), file.Metadata.Select(kv => kv.Key));
        for (int i = 0; i < sample.Metadata.Count; i++)
        {
            Assert.True(sample.Metadata[i].Value.ContentEquals(file.Metadata[i].Value), sample.Metadata[i].Key);
        }

        Assert.Equal(sample.Tensors.Select(t => t.Name), file.Tensors.Select(t => t.Name));
        foreach (var t in sample.Tensors)
        {
            GgufTensorInfo info = file.GetTensor(t.Name);
            Assert.Equal(t.Type, info.Type);
            Assert.Equal(t.Dims, info.Dimensions);
            Assert.Equal(0, info.Offset % file.Alignment);
            Assert.Equal(t.Data, file.GetTensorData(info).ToArray());
        }
    }

    [Fact]
    public void TypedGettersReadEachType()
    {
        using GgufFile file = GgufFile.Read(GgufSample.Create().WriteOurs());

        Assert.Equal("llama", file.GetString("general.architecture"));
        Assert.Equal("tiny model \u00fc\u4e2d", file.GetString("general.name"));
        Assert.Equal(4_000_000_000u, file.GetUInt32("test.u32"));
        Assert.Equal(-2_000_000_000, file.GetInt32("test.i32"));
        Assert.Equal(ulong.MaxValue - 1, file.GetUInt64("test.u64"));
        Assert.Equal(long.MinValue + 1, file.GetInt64("test.i64"));
        Assert.Equal(3.14159f, file.GetFloat32("test.f32"));
        Assert.Equal(Math.E, file.GetFloat64("test.f64"));
        Assert.True(file.GetBool("test.bool"));
        Assert.Equal((byte)200, file.GetValue("test.u8").AsUInt8());
        Assert.Equal((sbyte)-5, file.GetValue("test.i8").AsInt8());
        Assert.Equal((ushort)60000, file.GetValue("test.u16").AsUInt16());
        Assert.Equal((short)-30000, file.GetValue("test.i16").AsInt16());
        Assert.Equal(["a", "", "\u00e9t\u00e9", "<0x0A>"], file.GetArray<string>("arr.str"));
        Assert.Equal([true, false, true], file.GetArray<bool>("arr.bool"));
        Assert.Equal([-7, int.MaxValue, 0], file.GetArray<int>("arr.i32"));
        Assert.Empty(file.GetArray<int>("arr.empty"));
        Assert.True(file.GetValue("test.u32").TryGetUnsigned(out ulong u) && u == 4_000_000_000u);

        Assert.Throws<KeyNotFoundException>(() => file.GetString("missing.key"));
        InvalidDataException wrongType = Assert.Throws<InvalidDataException>(() => file.GetUInt32("test.i32"));
        Assert.Contains("test.i32", wrongType.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => file.GetArray<uint>("arr.i32")); // same width, other type
        Assert.Throws<InvalidOperationException>(() => file.GetValue("arr.u8").AsUInt8());
    }

    [Fact]
    public void NestedArraysRoundTrip()
    {
        GgufValue inner1 = GgufValue.FromArray<int>([1, 2, 3]);
        GgufValue inner2 = GgufValue.FromArray<string>(["x", "y"]);
        GgufValue nested = GgufValue.FromArray<GgufValue>([inner1, inner2, GgufValue.FromArray<GgufValue>([GgufValue.FromArray<byte>([9])])]);
        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            writer.SetMetadata("nested", nested);
            writer.Finish();
        }

        using GgufFile file = GgufFile.Read(stream.ToArray());
        GgufValue read = file.GetValue("nested");
        Assert.True(nested.ContentEquals(read));
        IReadOnlyList<GgufValue> items = read.AsArray<GgufValue>();
        Assert.Equal([1, 2, 3], items[0].AsArray<int>());
        Assert.Equal(["x", "y"], items[1].AsArray<string>());
        Assert.Equal([(byte)9], items[2].AsArray<GgufValue>()[0].AsArray<byte>());
        Assert.Equal(2u, file.GetUInt32(GgufConstants.QuantizationVersionKey)); // the writer adds it
    }

    [Fact]
    public void LargeAlignmentPadsEveryTensorAndTheDataStart()
    {
        GgufSample sample = GgufSample.Create(alignment: 4096);
        byte[] bytes = sample.WriteOurs();
        using GgufFile file = GgufFile.Read(bytes);

        Assert.Equal(4096, file.Alignment);
        Assert.Equal(0, file.DataOffset % 4096);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 4096));
        Assert.Equal(0, bytes.Length % 4096); // the last tensor is padded too, as ggml writes it
    }

    [Fact]
    public void RowViewsSliceWholeRows()
    {
        GgufSample sample = GgufSample.Create();
        using GgufFile file = GgufFile.Read(sample.WriteOurs());
        GgufTensorView view = file.GetTensorView("blk.0.attn_q.weight");
        byte[] expected = sample.Tensors.Single(t => t.Name == "blk.0.attn_q.weight").Data;

        Assert.Equal(QuantType.Q8_0, view.Type);
        Assert.Equal(5, view.Rows);
        Assert.Equal(64, view.Columns);
        Assert.Equal(68, view.RowByteCount);
        Assert.Equal(expected.AsSpan(68, 3 * 68).ToArray(), view.GetRows(1, 3).ToArray());
        Assert.Equal(0, view.GetRows(5, 0).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => view.GetRows(4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.GetRows(-1, 1));

        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.GetRows(0, 1));
    }

    [Fact]
    public void OpenMapsAFileAndRejectsAnEmptyOne()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, GgufSample.Create().WriteOurs());
            using (GgufFile file = GgufFile.Open(path))
            {
                Assert.Equal(path, file.Source);
                Assert.Equal(new FileInfo(path).Length, file.FileSize);
                Assert.Equal(8, file.Tensors.Count);
            }

            File.WriteAllBytes(path, []);
            InvalidDataException ex = Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));
            Assert.Contains("empty", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void WriterRejectsBadDeclarationsBeforeWritingAnything()
    {
        using var stream = new MemoryStream();
        using var writer = new GgufWriter(stream, leaveOpen: true);

        Assert.Equal("name", Assert.Throws<ArgumentException>(() => writer.AddTensor(new string('n', 64), QuantType.F32, [4])).ParamName);
        Assert.Equal("type", Assert.Throws<ArgumentException>(() => writer.AddTensor("a", QuantType.NF4, [64])).ParamName);
        Assert.Equal("type", Assert.Throws<ArgumentException>(() => writer.AddTensor("a", (QuantType)4, [64])).ParamName);
        Assert.Equal("dimensions", Assert.Throws<ArgumentException>(() => writer.AddTensor("a", QuantType.Q4_0, [33])).ParamName);
        Assert.Equal("dimensions", Assert.Throws<ArgumentException>(() => writer.AddTensor("a", QuantType.F32, [1, 1, 1, 1, 1])).ParamName);
        Assert.Equal("dimensions", Assert.Throws<ArgumentException>(() => writer.AddTensor("a", QuantType.F32, [-1])).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => writer.SetMetadata(GgufConstants.AlignmentKey, GgufValue.FromUInt32(48))).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => writer.SetMetadata(GgufConstants.AlignmentKey, GgufValue.FromInt32(64))).ParamName);
        writer.AddTensor("a", QuantType.F32, [4]);
        Assert.Throws<ArgumentException>(() => writer.AddTensor("a", QuantType.F32, [4]));
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => writer.WriteTensorData(new byte[17])).ParamName);
        Assert.Equal(0, stream.Length);

        writer.WriteTensorData(new byte[8]);
        Assert.Throws<InvalidOperationException>(() => writer.Finish()); // 8 of 16 bytes
        Assert.Throws<InvalidOperationException>(() => writer.SetMetadata("late", GgufValue.FromBool(true)));
        writer.WriteTensorData(new byte[8]);
        writer.Finish();
        Assert.Equal(stream.Length, writer.BytesWritten);
    }

    [Fact]
    public void SetMetadataReplacesInPlace()
    {
        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            writer.SetMetadata("a", GgufValue.FromUInt32(1));
            writer.SetMetadata("b", GgufValue.FromUInt32(2));
            writer.SetMetadata("a", GgufValue.FromString("one"));
            writer.Finish();
        }

        using GgufFile file = GgufFile.Read(stream.ToArray());
        Assert.Equal(["a", "b", GgufConstants.QuantizationVersionKey], file.Metadata.Select(kv => kv.Key));
        Assert.Equal("one", file.GetString("a"));
    }

    [Fact]
    public void GgufValueFactoriesCheckTheirArguments()
    {
        Assert.Throws<ArgumentException>(() => GgufValue.FromArray<decimal>([1m]));
        Assert.Throws<ArgumentException>(() => GgufValue.FromArray<string>([null!]));
        Assert.Throws<ArgumentException>(() => GgufValue.FromArray<GgufValue>([GgufValue.FromInt32(1)]));
        GgufValue deep = GgufValue.FromArray<int>([1]);
        for (int i = 0; i < GgufConstants.MaxArrayNesting - 1; i++)
        {
            deep = GgufValue.FromArray<GgufValue>([deep]);
        }

        Assert.Throws<ArgumentException>(() => GgufValue.FromArray<GgufValue>([deep]));
        Assert.Equal("[Int32 x 3: 1, 2, 3]", GgufValue.FromArray<int>([1, 2, 3]).ToString());
    }
}

public sealed class GgufLargeTensorTests
{
    [Fact]
    public void TensorsOver2GiBAreReadAsRowRanges()
    {
        // A sparse file: the header and one byte are written, the rest of the 2.6 GB tensor is a hole.
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.Skip("x64 only: a 2.6 GB mapping is not worth the risk under qemu-user emulation.");
        }

        const long rows = 600_000, columns = 4096, rowBytes = columns / 32 * 34;
        string path = Path.GetTempFileName();
        try
        {
            using (var stream = new MemoryStream())
            {
                using (var writer = new GgufWriter(stream, leaveOpen: true))
                {
                    writer.AddTensor("big", QuantType.Q8_0, [columns, rows]);
                    writer.WriteTensorData([0x5A]);
                }

                using var file = new FileStream(path, FileMode.Create);
                file.Write(stream.GetBuffer(), 0, (int)stream.Length);
                file.SetLength(stream.Length - 1 + rows * rowBytes + 64);
                file.Position = stream.Length - 1 + (rows - 1) * rowBytes;
                file.WriteByte(0xA5); // first byte of the last row
                file.WriteByte(0x3C); // its scale is FP16 0x3CA5
                for (int i = 1; i <= 32; i++)
                {
                    file.WriteByte((byte)i);
                }
            }

            using GgufFile gguf = GgufFile.Open(path);
            GgufTensorView view = gguf.GetTensorView("big");
            Assert.Equal(rows * rowBytes, view.ByteCount);
            Assert.False(view.FitsInSpan);
            Assert.Throws<InvalidOperationException>(() => view.Span.Length);
            Assert.Equal(int.MaxValue / rowBytes, view.MaxRowsPerSpan);
            Assert.Equal(0x5A, view.GetRows(0, 1)[0]);
            Assert.Equal(0xA5, view.GetRows(rows - 1, 1)[0]);
            Assert.Equal(view.MaxRowsPerSpan * rowBytes, view.GetRows(rows - view.MaxRowsPerSpan, view.MaxRowsPerSpan).Length);
            Assert.Throws<ArgumentOutOfRangeException>(() => view.GetRows(0, view.MaxRowsPerSpan + 1));

            // Zero-copy matrices: the whole tensor does not fit one, row ranges do.
            Assert.Throws<InvalidOperationException>(() => view.AsMatrix());
            Assert.Throws<InvalidOperationException>(() => view.Memory);
            IReadOnlyList<QuantizedMatrix> pieces = view.AsMatrices();
            Assert.Equal(2, pieces.Count);
            Assert.Equal(rows, pieces.Sum(p => (long)p.Rows));
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager(pieces[1].Weights, out System.Buffers.MemoryManager<byte>? _));
            QuantizedMatrix tail = view.AsMatrix(rows - 3, 3);
            var x = new float[columns];
            x.AsSpan().Fill(0.5f);
            var y = new float[3];
            tail.MatVec(x, y);
            var expected = new float[3];
            QuantizedMath.MatVec(QuantType.Q8_0, view.GetRows(rows - 3, 3).ToArray(), 3, (int)columns, x, expected);
            Assert.Equal(expected, y);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public sealed class GgufLoggingTests
{
    [Fact]
    public void LoadingLogsASummaryEachTensorAndRejections()
    {
        var logger = new ListLogger();
        using (GgufFile.Read(GgufSample.Create().WriteOurs(), logger))
        {
        }

        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Information && e.Message.Contains("8 tensors, 28 metadata keys", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Message.Contains("architecture llama", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Message.Contains("q4_K 1", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Debug && e.Message.Contains("blk.0.attn_q.weight: q8_0 [64 x 5]", StringComparison.Ordinal));

        logger.Entries.Clear();
        Assert.Throws<InvalidDataException>(() => GgufFile.Read(new byte[] { 1, 2, 3, 4, 5 }, logger));
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("magic", StringComparison.Ordinal));
    }
}
