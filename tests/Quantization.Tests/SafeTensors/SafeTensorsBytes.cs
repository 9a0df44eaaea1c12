using System.Buffers.Binary;
using System.Text;

namespace Quantization.Tests.SafeTensors;

/// <summary>Builds safetensors files byte by byte from the format description, independently of the library's writer.</summary>
internal static class SafeTensorsBytes
{
    /// <summary>The 8-byte little-endian header length, the header (as given, padded with <paramref name="padding"/> spaces), then the data.</summary>
    public static byte[] Build(string header, ReadOnlySpan<byte> data, int padding = 0)
    {
        byte[] json = Encoding.UTF8.GetBytes(header + new string(' ', padding));
        return Build(json, (ulong)json.Length, data);
    }

    /// <summary>Raw header bytes with any declared length.</summary>
    public static byte[] Build(ReadOnlySpan<byte> header, ulong declaredLength, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength);
        header.CopyTo(bytes.AsSpan(8));
        data.CopyTo(bytes.AsSpan(8 + header.Length));
        return bytes;
    }

    /// <summary>One tensor entry as the reference writes it.</summary>
    public static string Entry(string name, string dtype, long[] shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":[{begin},{end}]}}";

    public static byte[] Sequence(int length, int start = 0)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)(start + i * 7);
        }

        return data;
    }

    /// <summary>The bytes of the reference implementation's own serialization test: tensor "attn.0", F32, shape [1, 2, 3], values 0 to 5.</summary>
    public static readonly byte[] ReferenceAttn0 =
    [
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];

    /// <summary>The reference's forced-alignment test: "attn0", F32 [1, 1, 2, 3]; its header needs 7 spaces of padding.</summary>
    public static readonly byte[] ReferenceAttn0Padded =
    [
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
        121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
        91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
        115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
        32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
        160, 64,
    ];

    /// <summary>The reference's empty file: "{}" and six spaces.</summary>
    public static readonly byte[] ReferenceEmpty = [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32];

    /// <summary>The reference's empty file with <c>__metadata__ = {"framework": "pt"}</c>.</summary>
    public static readonly byte[] ReferenceEmptyWithMetadata =
    [
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
        95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
        116, 34, 125, 125, 32, 32, 32, 32, 32,
    ];
}
