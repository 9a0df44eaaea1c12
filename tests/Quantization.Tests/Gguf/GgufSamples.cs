using System.Runtime.InteropServices;
using Quantization.Gguf;
using Quantization.Oracle;

namespace Quantization.Tests.Gguf;

/// <summary>A small model description (metadata of every type, tensors of several types and shapes) and ways to write it.</summary>
internal sealed record GgufSample(List<KeyValuePair<string, GgufValue>> Metadata, List<(string Name, QuantType Type, long[] Dims, byte[] Data)> Tensors)
{
    /// <summary>Every scalar type, arrays of every element type (an empty one too), UTF-8 text, and 8 or 9 tensors.</summary>
    public static GgufSample Create(ulong seed = 1, uint? alignment = null, bool includeEmptyTensor = false)
    {
        var metadata = new List<KeyValuePair<string, GgufValue>>
        {
            new("general.architecture", GgufValue.FromString("llama")),
            new("general.name", GgufValue.FromString("tiny model \u00fc\u4e2d")),
            new("test.u8", GgufValue.FromUInt8(200)),
            new("test.i8", GgufValue.FromInt8(-5)),
            new("test.u16", GgufValue.FromUInt16(60000)),
            new("test.i16", GgufValue.FromInt16(-30000)),
            new("test.u32", GgufValue.FromUInt32(4_000_000_000)),
            new("test.i32", GgufValue.FromInt32(-2_000_000_000)),
            new("test.f32", GgufValue.FromFloat32(3.14159f)),
            new("test.bool", GgufValue.FromBool(true)),
            new("test.u64", GgufValue.FromUInt64(ulong.MaxValue - 1)),
            new("test.i64", GgufValue.FromInt64(long.MinValue + 1)),
            new("test.f64", GgufValue.FromFloat64(Math.E)),
            new("test.empty", GgufValue.FromString("")),
            new("arr.u8", GgufValue.FromArray<byte>([1, 2, 255])),
            new("arr.i8", GgufValue.FromArray<sbyte>([-1, 0, 127])),
            new("arr.u16", GgufValue.FromArray<ushort>([1, 65535])),
            new("arr.i16", GgufValue.FromArray<short>([-32768, 5])),
            new("arr.u32", GgufValue.FromArray<uint>([7, uint.MaxValue])),
            new("arr.i32", GgufValue.FromArray<int>([-7, int.MaxValue, 0])),
            new("arr.f32", GgufValue.FromArray<float>([0.5f, -0f, float.Epsilon])),
            new("arr.bool", GgufValue.FromArray<bool>([true, false, true])),
            new("arr.str", GgufValue.FromArray<string>(["a", "", "\u00e9t\u00e9", "<0x0A>"])),
            new("arr.u64", GgufValue.FromArray<ulong>([ulong.MaxValue])),
            new("arr.i64", GgufValue.FromArray<long>([long.MinValue, 3])),
            new("arr.f64", GgufValue.FromArray<double>([Math.PI, -1e300])),
            new("arr.empty", GgufValue.FromArray<int>([])),
            new(GgufConstants.QuantizationVersionKey, GgufValue.FromUInt32(2)),
        };
        if (alignment is uint a)
        {
            metadata.Insert(1, new(GgufConstants.AlignmentKey, GgufValue.FromUInt32(a)));
        }

        var random = new Random((int)seed);
        var tensors = new List<(string, QuantType, long[], byte[])>();
        void Add(string name, QuantType type, params long[] dims)
        {
            QuantFormat f = QuantFormat.Get(type);
            long elements = dims.Aggregate(1L, (x, y) => x * y);
            var data = new byte[elements / f.BlockSize * f.BytesPerBlock];
            random.NextBytes(data);
            tensors.Add((name, type, dims, data));
        }

        Add("token_embd.weight", QuantType.Q4_K, 256, 3);
        Add("blk.0.attn_norm.weight", QuantType.F32, 7);
        Add("blk.0.attn_q.weight", QuantType.Q8_0, 64, 5);
        Add("blk.0.ffn_up.weight", QuantType.Q4_0, 32, 2, 3);
        Add("blk.0.ffn_down.weight", QuantType.F16, 33, 2);
        Add("blk.0.experts", QuantType.BF16, 16, 1, 1, 2);
        Add("blk.0.q6", QuantType.Q6_K, 256);
        if (includeEmptyTensor)
        {
            // ggml_new_tensor gives a zero-element tensor no data pointer, so ggml cannot write one; it reads one whose
            // first extent is 0 (this ggml divides by the others unguarded, so a 0 there is SIGFPE in gguf_init_from_file).
            Add("empty.weight", QuantType.F32, 0, 8);
        }

        Add("output.weight", QuantType.IQ4_XS, 256, 2);
        return new GgufSample(metadata, tensors);
    }

    /// <summary>Writes the sample with <see cref="GgufWriter"/>, the data in chunks of <paramref name="chunk"/> bytes.</summary>
    public byte[] WriteOurs(int chunk = 1000)
    {
        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            foreach (var kv in Metadata)
            {
                writer.SetMetadata(kv.Key, kv.Value);
            }

            foreach (var t in Tensors)
            {
                writer.AddTensor(t.Name, t.Type, t.Dims);
            }

            byte[] all = [.. Tensors.SelectMany(t => t.Data)];
            for (int i = 0; i < all.Length; i += chunk)
            {
                writer.WriteTensorData(all.AsSpan(i, Math.Min(chunk, all.Length - i)));
            }

            writer.Finish();
        }

        return stream.ToArray();
    }

    /// <summary>Writes the sample with ggml's gguf API.</summary>
    public void WriteWithGgml(string path) =>
        GgmlGguf.Write(path, [.. Metadata.Select(kv => ToGgml(kv.Key, kv.Value))], [.. Tensors.Select(t => (t.Name, (int)t.Type, t.Dims, t.Data))]);

    /// <summary>The value in ggml's representation: type ids and little-endian bytes or strings.</summary>
    public static GgmlKeyValue ToGgml(string key, GgufValue value)
    {
        if (value.IsArray)
        {
            return value.ElementType == GgufValueType.String
                ? new(key, 9, 8, [], [.. value.AsArray<string>()])
                : new(key, 9, (int)value.ElementType, ArrayBytes(value), []);
        }

        return value.Type == GgufValueType.String
            ? new(key, 8, 8, [], [value.AsString()])
            : new(key, (int)value.Type, (int)value.Type, ScalarBytes(value), []);
    }

    public static void AssertSame(GgmlKeyValue expected, GgmlKeyValue actual)
    {
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.ElementType, actual.ElementType);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(expected.Strings, actual.Strings);
    }

    private static byte[] ScalarBytes(GgufValue v) => v.Type switch
    {
        GgufValueType.UInt8 => [v.AsUInt8()],
        GgufValueType.Int8 => [(byte)v.AsInt8()],
        GgufValueType.Bool => [(byte)(v.AsBool() ? 1 : 0)],
        GgufValueType.UInt16 => BitConverter.GetBytes(v.AsUInt16()),
        GgufValueType.Int16 => BitConverter.GetBytes(v.AsInt16()),
        GgufValueType.UInt32 => BitConverter.GetBytes(v.AsUInt32()),
        GgufValueType.Int32 => BitConverter.GetBytes(v.AsInt32()),
        GgufValueType.Float32 => BitConverter.GetBytes(v.AsFloat32()),
        GgufValueType.UInt64 => BitConverter.GetBytes(v.AsUInt64()),
        GgufValueType.Int64 => BitConverter.GetBytes(v.AsInt64()),
        GgufValueType.Float64 => BitConverter.GetBytes(v.AsFloat64()),
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    private static byte[] ArrayBytes(GgufValue v) => v.ElementType switch
    {
        GgufValueType.UInt8 => [.. v.AsArray<byte>()],
        GgufValueType.Int8 => Bytes(v.AsArray<sbyte>()),
        GgufValueType.Bool => [.. v.AsArray<bool>().Select(b => (byte)(b ? 1 : 0))],
        GgufValueType.UInt16 => Bytes(v.AsArray<ushort>()),
        GgufValueType.Int16 => Bytes(v.AsArray<short>()),
        GgufValueType.UInt32 => Bytes(v.AsArray<uint>()),
        GgufValueType.Int32 => Bytes(v.AsArray<int>()),
        GgufValueType.Float32 => Bytes(v.AsArray<float>()),
        GgufValueType.UInt64 => Bytes(v.AsArray<ulong>()),
        GgufValueType.Int64 => Bytes(v.AsArray<long>()),
        GgufValueType.Float64 => Bytes(v.AsArray<double>()),
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    private static byte[] Bytes<T>(IReadOnlyList<T> values) where T : unmanaged => MemoryMarshal.AsBytes(values.ToArray().AsSpan()).ToArray();
}
