using System.Text;
using Quantization.Gguf;

namespace Quantization.Tests.Gguf;

/// <summary>Hand-built corrupt files: each rule of the reader, with the message and offset it reports.</summary>
public sealed class GgufValidationTests
{
    /// <summary>Writes GGUF structures field by field, valid or not.</summary>
    private sealed class Raw
    {
        private readonly MemoryStream _stream = new();
        private readonly BinaryWriter _w;

        public Raw() => _w = new BinaryWriter(_stream);

        public long Position => _stream.Position;

        public Raw U32(uint v) { _w.Write(v); return this; }
        public Raw U64(ulong v) { _w.Write(v); return this; }
        public Raw Str(string s) { byte[] b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); return this; }
        public Raw Bytes(int n) { _w.Write(new byte[n]); return this; }
        public Raw Header(ulong tensors, ulong keys, uint version = 3) => U32(GgufConstants.Magic).U32(version).U64(tensors).U64(keys);
        public Raw Tensor(string name, uint type, ulong offset, params ulong[] dims)
        {
            Str(name).U32((uint)dims.Length);
            foreach (ulong d in dims)
            {
                U64(d);
            }

            return U32(type).U64(offset);
        }

        public Raw PadTo(int alignment) { while (_stream.Position % alignment != 0) _w.Write((byte)0); return this; }
        public byte[] ToArray() => _stream.ToArray();
    }

    private static InvalidDataException Rejects(byte[] bytes, string fragment, long? offset = null)
    {
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => GgufFile.Read(bytes).Dispose());
        Assert.True(ex.Message.Contains(fragment, StringComparison.Ordinal), ex.Message);
        if (offset is long at)
        {
            Assert.True(ex.Message.Contains($"(at byte offset {at})", StringComparison.Ordinal), ex.Message);
        }

        return ex;
    }

    [Fact]
    public void AValidMinimalFileLoads()
    {
        byte[] bytes = new Raw().Header(1, 1).Str("general.alignment").U32(4).U32(16)
            .Tensor("w", 0, 0, 4).PadTo(16).Bytes(16).ToArray();
        using GgufFile file = GgufFile.Read(bytes);
        Assert.Equal(16, file.Alignment);
        Assert.Equal(16, file.GetTensorData(file.Tensors[0]).Length);
    }

    [Fact]
    public void HeaderRules()
    {
        Rejects([], "ends inside the magic", 0);
        Rejects([0x47, 0x47, 0x55, 0x58, 3, 0, 0, 0], "magic", 0);
        Rejects(new Raw().Header(0, 0, version: 1).ToArray(), "version 1", 4);
        Rejects(new Raw().Header(0, 0, version: 4).ToArray(), "version 4", 4);
        Rejects(new Raw().Header(0, 0, version: 0x03000000).ToArray(), "big-endian", 4);
        Rejects(new Raw().U32(GgufConstants.Magic).U32(3).U64(0).ToArray(), "metadata key count", 16);
        Rejects(new Raw().Header(0, ulong.MaxValue).ToArray(), "metadata key count 18446744073709551615 cannot fit", 16);
        Rejects(new Raw().Header(1UL << 40, 0).Bytes(100).ToArray(), "tensor count 1099511627776 cannot fit", 8);
    }

    [Fact]
    public void MetadataRules()
    {
        Rejects(new Raw().Header(0, 1).Str("").U32(4).U32(1).ToArray(), "empty key", 24);
        Rejects(new Raw().Header(0, 2).Str("a").U32(4).U32(1).Str("a").U32(4).U32(1).ToArray(), "'a' appears twice", 41);
        Rejects(new Raw().Header(0, 1).Str("a").U32(13).U32(1).Bytes(8).ToArray(), "unknown value type 13", 33);
        Rejects(new Raw().Header(0, 1).Str("a").U32(9).U32(13).U64(1).Bytes(8).ToArray(), "unknown element type 13", 37);
        Rejects(new Raw().Header(0, 1).Str("a").U32(9).U32(10).U64(1UL << 61).Bytes(16).ToArray(), "declares 2305843009213693952 elements", 41);
        Rejects(new Raw().Header(0, 1).Str("a").U32(9).U32(8).U64(2).Str("x").U64(ulong.MaxValue).ToArray(), "a string of 18446744073709551615 bytes", 58);
        Rejects(new Raw().Header(0, 1).Str("a").U32(8).U64(100).Bytes(10).ToArray(), "more than the 10 that follow", 37);
        Rejects(new Raw().Header(0, 1).Str("a").U32(4).Bytes(2).ToArray(), "ends inside the value of 'a'", 37);
        Rejects(new Raw().Header(0, 1).Str("general.alignment").U32(4).U32(48).ToArray(), "48 is not a power of two", 49);
        Rejects(new Raw().Header(0, 1).Str("general.alignment").U32(4).U32(0).ToArray(), "0 is not a power of two", 49);
        Rejects(new Raw().Header(0, 1).Str("general.alignment").U32(5).U32(32).ToArray(), "is Int32, not UInt32", 49);

        var deep = new Raw().Header(0, 1).Str("a").U32(9);
        for (int i = 0; i < GgufConstants.MaxArrayNesting + 1; i++)
        {
            deep.U32(9).U64(1);
        }

        Rejects(deep.U32(4).U64(0).ToArray(), "nests arrays deeper than 8");
    }

    [Fact]
    public void TensorInfoRules()
    {
        static Raw OneTensor() => new Raw().Header(1, 0);
        Rejects(OneTensor().Tensor(new string('n', 64), 0, 0, 4).ToArray(), "name is 64 bytes", 24);
        Rejects(OneTensor().U64(ulong.MaxValue).Bytes(30).ToArray(), "name is 18446744073709551615 bytes", 24);
        Rejects(new Raw().Header(2, 0).Tensor("w", 0, 0, 4).Tensor("w", 0, 32, 4).PadTo(32).Bytes(64).ToArray(), "'w' appears twice", 57);
        Rejects(OneTensor().Tensor("w", 0, 0, 1, 1, 1, 1, 1).ToArray(), "5 dimensions", 33);
        Rejects(OneTensor().Tensor("w", 0, 0, ulong.MaxValue).ToArray(), "negative", 37);
        Rejects(OneTensor().Tensor("w", 0, 0, 1UL << 40, 1UL << 40).ToArray(), "more than 2^63 elements", 45);
        Rejects(OneTensor().Tensor("w", 4, 0, 32).ToArray(), "type id 4, which is not a ggml type", 45);
        Rejects(OneTensor().Tensor("w", 39 + 50, 0, 32).ToArray(), "type id 89", 45);
        Rejects(OneTensor().Tensor("w", 1000, 0, 64).ToArray(), "type id 1000", 45);
        Rejects(OneTensor().Tensor("w", 2, 0, 33).ToArray(), "rows of 33 values, not a multiple of the q4_0 block size 32", 45);
        Rejects(OneTensor().Tensor("w", 0, 8, 4).ToArray(), "data offset 8, not a multiple of the alignment 32", 49);
    }

    [Fact]
    public void TensorDataRules()
    {
        // Header 24 + info (8+1+4+8+4+8 = 33) = 57, padded to 64.
        Rejects(new Raw().Header(1, 0).Tensor("w", 0, 0, 4).ToArray(), "ends before the aligned start of the tensor data", 57);
        Rejects(new Raw().Header(1, 0).Tensor("w", 0, 0, 4).PadTo(32).Bytes(15).ToArray(), "beyond the end of the file", 24);
        Rejects(new Raw().Header(1, 0).Tensor("w", 0, 1UL << 62, 4).PadTo(32).Bytes(16).ToArray(), "beyond the end of the file", 24);
        Rejects(new Raw().Header(2, 0).Tensor("a", 0, 0, 16).Tensor("b", 0, 32, 16).PadTo(32).Bytes(96).ToArray(), "overlaps tensor 'a', which ends at 64", 57);
    }

    [Fact]
    public void ZeroSizedTensorsMayShareAnOffset()
    {
        byte[] bytes = new Raw().Header(2, 0).Tensor("a", 0, 0, 0, 5).Tensor("b", 0, 0, 4).PadTo(32).Bytes(32).ToArray();
        using GgufFile file = GgufFile.Read(bytes);
        Assert.Equal(0, file.Tensors[0].ByteCount);
        Assert.Equal(0, file.Tensors[0].RowCount);
    }
}
