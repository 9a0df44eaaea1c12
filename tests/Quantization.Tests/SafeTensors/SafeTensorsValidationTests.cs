using System.Text;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>Each kind of hostile file, built by hand, fails with an <see cref="InvalidDataException"/> that names the problem.</summary>
public sealed class SafeTensorsValidationTests
{
    private static byte[] One(string dtype, string shape, string offsets, int dataBytes) =>
        Build($"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}", new byte[dataBytes]);

    private static byte[] Header(string json, int dataBytes = 0) => Build(json, new byte[dataBytes]);

    public static TheoryData<string, byte[], string> HostileFiles => new()
    {
        { "shorter than the length prefix", [1, 0, 0, 0, 0], "shorter than the 8-byte header length" },
        { "header length 2^63", Build("{}"u8, 1UL << 63, []), "larger than the 100000000-byte limit" },
        { "header length 2^64-1", Build("{}"u8, ulong.MaxValue, []), "larger than the 100000000-byte limit" },
        { "header length past the end", Build("{}"u8, 100, []), "header length 100 runs past the end of the 10-byte file" },
        { "not JSON", Header("{\"t\":"), "not valid JSON" },
        { "comment", Header("{/* c */}"), "not valid JSON" },
        { "trailing comma", Header("{\"__metadata__\":{\"a\":\"b\",}}"), "not valid JSON" },
        { "content after the object", Header("{} x"), "not valid JSON" },
        { "not UTF-8", Build([.. "{\"a"u8, 0xFF, .. "\":{}}"u8], 8, []), "not valid UTF-8 (at byte offset 11)" },
        { "lone surrogate escape", Header("{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}"), "not valid Unicode" },
        { "not an object", Header("[]"), "not a JSON object" },
        { "tensor not an object", Header("{\"t\":[1]}"), "tensor 't' is a StartArray, not an object" },
        { "duplicate name", Header("{" + Entry("t", "U8", [1], 0, 1) + "," + Entry("t", "U8", [1], 1, 2) + "}", 2), "tensor 't' appears twice" },
        { "two metadata", Header("{\"__metadata__\":{},\"__metadata__\":{}}"), "two __metadata__ entries" },
        { "metadata value not a string", Header("{\"__metadata__\":{\"n\":1}}"), "__metadata__ value 'n' is a Number, not a string" },
        { "duplicate metadata key", Header("{\"__metadata__\":{\"n\":\"1\",\"n\":\"2\"}}"), "__metadata__ key 'n' appears twice" },
        { "unknown dtype", One("F128", "[1]", "[0,16]", 16), "tensor 't' has the unknown dtype 'F128'" },
        { "lower-case dtype", One("f32", "[1]", "[0,4]", 4), "unknown dtype 'f32'" },
        { "missing data_offsets", Header("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), "tensor 't' has no data_offsets" },
        { "three data_offsets", One("U8", "[1]", "[0,1,2]", 1), "data_offsets has 3 values, not 2" },
        { "shape not an array", One("U8", "1", "[0,1]", 1), "shape is not an array" },
        { "negative dimension", One("U8", "[-1]", "[0,1]", 1), "shape holds the negative value -1" },
        { "fractional dimension", One("U8", "[1.5]", "[0,1]", 1), "shape holds 1.5, not an integer" },
        { "dimension past 2^63", One("U8", "[1e30]", "[0,1]", 1), "shape holds 1e30, not an integer" },
        { "overflowing shape", One("U8", "[4294967296,4294967296]", "[0,1]", 1), "overflows a 64-bit element count" },
        { "overflowing byte count", One("F64", "[2305843009213693952]", "[0,1]", 1), "overflows a 64-bit byte count" },
        { "shape x dtype != bytes", One("F32", "[2]", "[0,4]", 4), "tensor 't': the shape [2] of F32 is 8 bytes but data_offsets [0, 4] hold 4" },
        { "sub-byte tensor not whole bytes", One("F4", "[3]", "[0,2]", 2), "3 values of F4 are not a whole number of bytes" },
        { "offsets reversed", One("U8", "[0]", "[4,0]", 4), "data_offsets [4, 0] end before they begin" },
        { "huge declared size", One("F32", "[1099511627776]", "[0,4398046511104]", 4), "past the end of the 4-byte data section" },
        { "offsets past the data", One("U8", "[8]", "[0,8]", 4), "ends at data offset 8, past the end of the 4-byte data section" },
        { "trailing bytes", One("U8", "[4]", "[0,4]", 6), "the tensors cover 4 bytes but the data section has 6" },
        { "first tensor not at 0", One("U8", "[4]", "[2,6]", 6), "starts at data offset 2, leaving a gap after the header" },
        {
            "overlap", Header("{" + Entry("a", "U8", [4], 0, 4) + "," + Entry("b", "U8", [4], 2, 6) + "}", 6),
            "tensor 'b' at data offset 2 overlaps tensor 'a', which ends at 4"
        },
        {
            "gap", Header("{" + Entry("a", "U8", [4], 0, 4) + "," + Entry("b", "U8", [4], 6, 10) + "}", 10),
            "tensor 'b' starts at data offset 6, leaving a gap after tensor 'a', which ends at 4"
        },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void HostileFileIsRejectedWithTheProblemNamed(string name, byte[] file, string expected)
    {
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(file).Dispose());
        Assert.StartsWith("Invalid safetensors file: ", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Contains(expected, StringComparison.Ordinal), $"{name}: {ex.Message}");
        Assert.Contains("(at byte offset ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyAndShortFilesOnDiskAreInvalidData()
    {
        string path = Path.GetTempFileName();
        try
        {
            Assert.Contains("shorter than", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message, StringComparison.Ordinal);
            File.WriteAllBytes(path, Build("{}"u8, 1 << 20, []));
            Assert.Contains("runs past the end", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path)).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OffsetOfAJsonErrorPointsIntoTheHeader()
    {
        byte[] file = Header("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} !!", 1);
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(file));
        int bang = Encoding.ASCII.GetString(file).IndexOf('!', StringComparison.Ordinal);
        Assert.Contains($"(at byte offset {bang})", ex.Message, StringComparison.Ordinal);
    }
}
