using System.Buffers.Binary;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>Hand-built files (bytes laid out by the test from the format description) read back: every dtype, metadata, views, floats.</summary>
public sealed class SafeTensorsReaderTests
{
    // Bits per value of every dtype the format lists, written out here rather than taken from the library.
    public static TheoryData<string, int> DTypeBits => new()
    {
        { "BOOL", 8 }, { "F4", 4 }, { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "U8", 8 }, { "I8", 8 }, { "F8_E5M2", 8 },
        { "F8_E4M3", 8 }, { "F8_E8M0", 8 }, { "F8_E4M3FNUZ", 8 }, { "F8_E5M2FNUZ", 8 }, { "I16", 16 }, { "U16", 16 },
        { "F16", 16 }, { "BF16", 16 }, { "I32", 32 }, { "U32", 32 }, { "F32", 32 }, { "C64", 64 }, { "F64", 64 },
        { "I64", 64 }, { "U64", 64 },
    };

    [Fact]
    public void EveryDTypeIsListed() => Assert.Equal(DTypeBits.Count, SafeTensorsDTypes.All.Count);

    [Theory]
    [MemberData(nameof(DTypeBits))]
    public void ReadsEveryDType(string dtype, int bits)
    {
        long[] shape = [3, 8]; // 24 values: whole bytes for 4 and 6 bits too
        int bytes = 24 * bits / 8;
        byte[] data = Sequence(bytes + 6, 1);
        string header = "{" + Entry("a", "U8", [6], 0, 6) + "," + Entry("w", dtype, shape, 6, 6 + bytes) + "}";

        using SafeTensorsFile file = SafeTensorsFile.Read(Build(header, data));

        SafeTensorsTensorInfo w = file.GetTensor("w");
        Assert.Equal(dtype, w.DTypeName);
        Assert.Equal(bits, SafeTensorsDTypes.GetBitSize(w.DType));
        Assert.Equal(shape, w.Shape);
        Assert.Equal(24, w.ElementCount);
        Assert.Equal((6L, 6L + bytes), (w.Begin, w.End));
        Assert.Equal(3, w.Rows);
        Assert.Equal(8, w.Columns);
        Assert.Equal(8 * bits / 8, w.RowByteCount);
        SafeTensorsTensorView view = file.GetTensorView(w);
        Assert.Equal(data.AsSpan(6).ToArray(), view.Span.ToArray());
        Assert.Equal(data.AsSpan(6 + 8 * bits / 8, 2 * 8 * bits / 8).ToArray(), view.GetRows(1, 2).ToArray());
        Assert.True(SafeTensorsDTypes.TryParse(dtype, out SafeTensorsDType parsed) && parsed == w.DType);
    }

    [Fact]
    public void ReadsTheReferenceImplementationsOwnTestFile()
    {
        using SafeTensorsFile file = SafeTensorsFile.Read(ReferenceAttn0);

        SafeTensorsTensorInfo t = Assert.Single(file.Tensors);
        Assert.Equal("attn.0", t.Name);
        Assert.Equal(SafeTensorsDType.F32, t.DType);
        Assert.Equal([1L, 2, 3], t.Shape);
        Assert.Equal(72, file.DataOffset);
        Assert.Empty(file.Metadata);
        var values = new float[6];
        file.GetTensorView(t).ToSingle(values);
        Assert.Equal([0f, 1, 2, 3, 4, 5], values);
    }

    [Fact]
    public void ReadsPaddedAndEmptyFilesAndMetadata()
    {
        using (SafeTensorsFile padded = SafeTensorsFile.Read(ReferenceAttn0Padded))
        {
            Assert.Equal(72, padded.HeaderLength);
            Assert.Equal([1L, 1, 2, 3], padded.GetTensor("attn0").Shape);
        }

        using (SafeTensorsFile empty = SafeTensorsFile.Read(ReferenceEmpty))
        {
            Assert.Empty(empty.Tensors);
        }

        using SafeTensorsFile meta = SafeTensorsFile.Read(ReferenceEmptyWithMetadata);
        Assert.Equal("pt", Assert.Single(meta.Metadata, kv => kv.Key == "framework").Value);
    }

    [Fact]
    public void HeaderOrderDoesNotMatterAndTensorsComeInDataOrder()
    {
        string header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a \\\"quoted\\\" \\u00e9\"},"
            + Entry("second", "I16", [2], 4, 8) + "," + Entry("first", "U8", [2, 2], 0, 4) + "," + Entry("empty", "F32", [0, 5], 8, 8)
            + ",\"extra\":{\"shape\":[1],\"dtype\":\"U8\",\"future_field\":{\"x\":[1,2]},\"data_offsets\":[8,9]}}";

        using SafeTensorsFile file = SafeTensorsFile.Read(Build(header, Sequence(9), padding: 5));

        Assert.Equal(["first", "second", "empty", "extra"], file.Tensors.Select(t => t.Name));
        Assert.Equal("a \"quoted\" é", file.Metadata["note"]);
        SafeTensorsTensorInfo empty = file.GetTensor("empty");
        Assert.Equal(0, empty.ElementCount);
        Assert.Equal(0, empty.Rows);
        Assert.True(file.GetTensorView(empty).Span.IsEmpty);
        Assert.Equal([Sequence(9)[8]], file.GetTensorView("extra").Span.ToArray());
    }

    [Fact]
    public void ScalarsAndSubByteRows()
    {
        // F4 [2, 3]: 12 bits per row, so rows do not end on a byte boundary; the whole tensor is 3 bytes.
        string header = "{" + Entry("s", "F32", [], 0, 4) + "," + Entry("f4", "F4", [2, 3], 4, 7) + "," + Entry("f4even", "F4", [3, 4], 7, 13) + "}";
        using SafeTensorsFile file = SafeTensorsFile.Read(Build(header, Sequence(13)));

        SafeTensorsTensorInfo s = file.GetTensor("s");
        Assert.Equal((1L, 1L, 1L), (s.ElementCount, s.Rows, s.Columns));
        SafeTensorsTensorView f4 = file.GetTensorView("f4");
        Assert.Equal(3, f4.Span.Length);
        Assert.Equal(-1, f4.Info.RowByteCount);
        Assert.Throws<NotSupportedException>(() => f4.GetRows(0, 1).Length);
        SafeTensorsTensorView even = file.GetTensorView("f4even");
        Assert.Equal(Sequence(13).AsSpan(9, 2).ToArray(), even.GetRows(1, 1).ToArray());
    }

    [Fact]
    public void ConvertsFloatDTypesToSingle()
    {
        // Hand-encoded: F16 1, -2, 65504; BF16 1, 3.140625, -0; F64 0.5, -3; F8_E4M3 1, 448, -0.001953125 (smallest subnormal);
        // F8_E5M2 1, +inf, 57344; F8_E8M0 1 (127), 2 (128), 2^-127 (0), NaN (255).
        byte[] data =
        [
            0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B,
            0x80, 0x3F, 0x49, 0x40, 0x00, 0x80,
            .. BitConverter.GetBytes(0.5), .. BitConverter.GetBytes(-3.0),
            0x38, 0x7E, 0x81,
            0x3C, 0x7C, 0x7B,
            127, 128, 0, 255,
        ];
        string header = "{" + Entry("f16", "F16", [3], 0, 6) + "," + Entry("bf16", "BF16", [3], 6, 12) + "," + Entry("f64", "F64", [2], 12, 28)
            + "," + Entry("e4m3", "F8_E4M3", [3], 28, 31) + "," + Entry("e5m2", "F8_E5M2", [3], 31, 34) + "," + Entry("e8m0", "F8_E8M0", [4], 34, 38) + "}";
        using SafeTensorsFile file = SafeTensorsFile.Read(Build(header, data));

        Assert.Equal([1f, -2f, 65504f], Floats(file, "f16"));
        float[] bf16 = Floats(file, "bf16");
        Assert.Equal([1f, 3.140625f, 0f], bf16);
        Assert.True(float.IsNegative(bf16[2]));
        Assert.Equal([0.5f, -3f], Floats(file, "f64"));
        Assert.Equal([1f, 448f, -0.001953125f], Floats(file, "e4m3"));
        Assert.Equal([1f, float.PositiveInfinity, 57344f], Floats(file, "e5m2"));
        float[] e8m0 = Floats(file, "e8m0");
        Assert.Equal([1f, 2f, MathF.Pow(2, -127)], e8m0[..3]);
        Assert.True(float.IsNaN(e8m0[3]));
    }

    [Fact]
    public void IntegerDTypesAreNotFloats()
    {
        using SafeTensorsFile file = SafeTensorsFile.Read(Build("{" + Entry("i", "I32", [2], 0, 8) + "}", new byte[8]));
        SafeTensorsTensorView view = file.GetTensorView("i");
        Assert.False(view.CanReadAsSingle);
        Assert.Null(view.MatrixType);
        Assert.Throws<NotSupportedException>(() => view.ToSingle(new float[2]));
        Assert.Throws<NotSupportedException>(() => view.AsMatrix());
    }

    [Fact]
    public void RowsAsSingleReadTheRequestedRows()
    {
        var values = new float[12];
        var data = new byte[48];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = i * 0.25f - 1;
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        }

        using SafeTensorsFile file = SafeTensorsFile.Read(Build("{" + Entry("w", "F32", [3, 4], 0, 48) + "}", data));
        SafeTensorsTensorView view = file.GetTensorView("w");
        var rows = new float[8];
        view.GetRowsAsSingle(1, 2, rows);
        Assert.Equal(values[4..], rows);
        Assert.Throws<ArgumentOutOfRangeException>(() => view.GetRowsAsSingle(2, 2, rows));
        Assert.Throws<ArgumentException>(() => view.GetRowsAsSingle(0, 1, rows));
    }

    [Fact]
    public void LookupsAndForeignTensors()
    {
        using SafeTensorsFile file = SafeTensorsFile.Read(ReferenceAttn0);
        using SafeTensorsFile other = SafeTensorsFile.Read(ReferenceAttn0Padded);
        Assert.False(file.TryGetTensor("missing", out _));
        Assert.Throws<KeyNotFoundException>(() => file.GetTensor("missing"));
        Assert.Throws<ArgumentException>(() => file.GetTensorView(other.GetTensor("attn0")));
    }

    private static float[] Floats(SafeTensorsFile file, string name)
    {
        SafeTensorsTensorView view = file.GetTensorView(name);
        Assert.True(view.CanReadAsSingle);
        var values = new float[view.Info.ElementCount];
        view.ToSingle(values);
        return values;
    }
}
