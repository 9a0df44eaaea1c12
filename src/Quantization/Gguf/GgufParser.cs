using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Quantization.Gguf;

/// <summary>The parsed header, metadata and tensor table of a GGUF file, every offset checked against its size.</summary>
internal sealed record GgufLayout(
    uint Version,
    List<KeyValuePair<string, GgufValue>> Metadata,
    Dictionary<string, GgufValue> MetadataByKey,
    List<GgufTensorInfo> Tensors,
    int Alignment,
    long DataOffset);

/// <summary>
/// Parses GGUF v3 from memory. Every count, length and offset is checked against the bytes that remain before it is
/// used, with arithmetic that cannot overflow, so a hostile file costs at most time and memory proportional to its size.
/// Any violation is an <see cref="InvalidDataException"/> naming what is wrong and the byte offset where it was found.
/// </summary>
internal static unsafe class GgufParser
{
    // Smallest encodings, used to bound declared counts by the bytes left: a key/value pair is a non-empty key
    // (8 + 1), a type (4) and a value of at least one byte; a tensor info is a name length (8), n_dims (4), a type (4)
    // and an offset (8).
    private const int MinKeyValueBytes = 14;
    private const int MinTensorInfoBytes = 24;
    private const int MinNestedArrayBytes = 12;

    public static GgufLayout Parse(byte* data, long length)
    {
        var cursor = new Cursor(data, length);
        uint magic = cursor.ReadUInt32("the magic");
        if (magic != GgufConstants.Magic)
        {
            throw Corrupt(0, $"the magic is 0x{magic:X8}, not \"GGUF\" (0x{GgufConstants.Magic:X8})");
        }

        uint version = cursor.ReadUInt32("the version");
        if (version is not (2 or GgufConstants.Version))
        {
            // v2 has v3's layout (v3 only allowed big-endian files), and ggml reads both; v1 had 32-bit counts.
            string hint = version == 1 ? "; GGUF v1 is not supported" : (version & 0xFFFF) == 0 ? "; the file may be big-endian" : "";
            throw Corrupt(4, $"version {version} is not 2 or 3{hint}");
        }

        long tensorCountOffset = cursor.Position;
        ulong tensorCount = cursor.ReadUInt64("the tensor count");
        long keyCountOffset = cursor.Position;
        ulong keyCount = cursor.ReadUInt64("the metadata key count");
        if (keyCount > (ulong)(cursor.Remaining / MinKeyValueBytes))
        {
            throw Corrupt(keyCountOffset, $"the metadata key count {keyCount} cannot fit in the {cursor.Remaining} bytes that follow");
        }

        if (tensorCount > (ulong)(cursor.Remaining / MinTensorInfoBytes))
        {
            throw Corrupt(tensorCountOffset, $"the tensor count {tensorCount} cannot fit in the {cursor.Remaining} bytes that follow");
        }

        // Capacities are capped: in a large file a corrupt count can pass the bytes-left bound, and lists that grow as
        // entries actually parse keep memory proportional to the bytes read.
        var metadata = new List<KeyValuePair<string, GgufValue>>(InitialCapacity(keyCount));
        var byKey = new Dictionary<string, GgufValue>(InitialCapacity(keyCount), StringComparer.Ordinal);
        int alignment = GgufConstants.DefaultAlignment;
        for (ulong i = 0; i < keyCount; i++)
        {
            long keyOffset = cursor.Position;
            string key = cursor.ReadString($"the key of metadata entry {i}");
            if (key.Length == 0)
            {
                throw Corrupt(keyOffset, $"metadata entry {i} has an empty key");
            }

            if (byKey.ContainsKey(key))
            {
                throw Corrupt(keyOffset, $"metadata key '{key}' appears twice");
            }

            long valueOffset = cursor.Position;
            GgufValue value = ReadValue(ref cursor, key, depth: 0);
            if (key == GgufConstants.AlignmentKey)
            {
                if (value.Type != GgufValueType.UInt32)
                {
                    throw Corrupt(valueOffset, $"'{key}' is {value.Type}, not UInt32");
                }

                uint a = value.AsUInt32();
                if (a == 0 || (a & (a - 1)) != 0 || a > 1u << 30)
                {
                    throw Corrupt(valueOffset, $"the alignment {a} is not a power of two (up to 2^30)");
                }

                alignment = (int)a;
            }

            metadata.Add(new(key, value));
            byKey.Add(key, value);
        }

        if (tensorCount > int.MaxValue)
        {
            throw Corrupt(tensorCountOffset, $"the tensor count {tensorCount} is more than this reader supports");
        }

        var tensors = new List<GgufTensorInfo>(InitialCapacity(tensorCount));
        var names = new HashSet<string>(InitialCapacity(tensorCount), StringComparer.Ordinal);
        var infoOffsets = new List<long>(InitialCapacity(tensorCount));
        for (int i = 0; i < (int)tensorCount; i++)
        {
            infoOffsets.Add(cursor.Position);
            tensors.Add(ReadTensorInfo(ref cursor, i, alignment, names));
        }

        long dataOffset = cursor.Position;
        if (tensorCount > 0)
        {
            long padded = AlignUp(dataOffset, alignment);
            if (padded > length)
            {
                throw Corrupt(dataOffset, $"the file ends before the aligned start of the tensor data at {padded}");
            }

            dataOffset = padded;
        }

        CheckTensorData(tensors, infoOffsets, dataOffset, length);
        return new GgufLayout(version, metadata, byKey, tensors, alignment, dataOffset);
    }

    private static int InitialCapacity(ulong declared) => (int)Math.Min(declared, 1024);

    public static long AlignUp(long offset, int alignment) => offset + (alignment - offset % alignment) % alignment;

    public static InvalidDataException Corrupt(long offset, string message) =>
        new($"Invalid GGUF file: {message} (at byte offset {offset}).");

    private static GgufValue ReadValue(ref Cursor cursor, string key, int depth)
    {
        long typeOffset = cursor.Position;
        uint type = cursor.ReadUInt32($"the type of '{key}'");
        if (type > (uint)GgufValueType.Float64)
        {
            throw Corrupt(typeOffset, $"metadata '{key}' has unknown value type {type}");
        }

        var valueType = (GgufValueType)type;
        return valueType == GgufValueType.Array ? ReadArray(ref cursor, key, depth + 1) : ReadScalar(ref cursor, key, valueType);
    }

    private static GgufValue ReadScalar(ref Cursor cursor, string key, GgufValueType type)
    {
        string what = $"the value of '{key}'";
        return type switch
        {
            GgufValueType.UInt8 => GgufValue.FromUInt8(cursor.Take(1, what)[0]),
            GgufValueType.Int8 => GgufValue.FromInt8((sbyte)cursor.Take(1, what)[0]),
            GgufValueType.UInt16 => GgufValue.FromUInt16(BinaryPrimitives.ReadUInt16LittleEndian(cursor.Take(2, what))),
            GgufValueType.Int16 => GgufValue.FromInt16(BinaryPrimitives.ReadInt16LittleEndian(cursor.Take(2, what))),
            GgufValueType.UInt32 => GgufValue.FromUInt32(BinaryPrimitives.ReadUInt32LittleEndian(cursor.Take(4, what))),
            GgufValueType.Int32 => GgufValue.FromInt32(BinaryPrimitives.ReadInt32LittleEndian(cursor.Take(4, what))),
            GgufValueType.Float32 => GgufValue.FromFloat32(BinaryPrimitives.ReadSingleLittleEndian(cursor.Take(4, what))),
            GgufValueType.Bool => GgufValue.FromBool(cursor.Take(1, what)[0] != 0),
            GgufValueType.String => GgufValue.FromString(cursor.ReadString(what)),
            GgufValueType.UInt64 => GgufValue.FromUInt64(BinaryPrimitives.ReadUInt64LittleEndian(cursor.Take(8, what))),
            GgufValueType.Int64 => GgufValue.FromInt64(BinaryPrimitives.ReadInt64LittleEndian(cursor.Take(8, what))),
            _ => GgufValue.FromFloat64(BinaryPrimitives.ReadDoubleLittleEndian(cursor.Take(8, what))),
        };
    }

    private static GgufValue ReadArray(ref Cursor cursor, string key, int depth)
    {
        long start = cursor.Position;
        if (depth > GgufConstants.MaxArrayNesting)
        {
            throw Corrupt(start, $"metadata '{key}' nests arrays deeper than {GgufConstants.MaxArrayNesting} levels");
        }

        uint rawType = cursor.ReadUInt32($"the element type of array '{key}'");
        if (rawType > (uint)GgufValueType.Float64)
        {
            throw Corrupt(start, $"array '{key}' has unknown element type {rawType}");
        }

        var elementType = (GgufValueType)rawType;
        long countOffset = cursor.Position;
        ulong count = cursor.ReadUInt64($"the element count of array '{key}'");
        int size = GgufValue.ElementSize(elementType);
        int minSize = size != 0 ? size : elementType == GgufValueType.String ? 8 : MinNestedArrayBytes;
        if (count > (ulong)(cursor.Remaining / minSize) || count > (ulong)Array.MaxLength)
        {
            throw Corrupt(countOffset, $"array '{key}' declares {count} elements of {elementType}, more than the {cursor.Remaining} bytes that follow can hold");
        }

        int n = (int)count;
        string what = $"the elements of array '{key}'";
        switch (elementType)
        {
            case GgufValueType.UInt8: return GgufValue.WrapArray(elementType, cursor.Take(n, what).ToArray());
            case GgufValueType.Int8: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, sbyte>(cursor.Take(n, what)).ToArray());
            case GgufValueType.UInt16: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, ushort>(cursor.Take(n * 2L, what)).ToArray());
            case GgufValueType.Int16: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, short>(cursor.Take(n * 2L, what)).ToArray());
            case GgufValueType.UInt32: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, uint>(cursor.Take(n * 4L, what)).ToArray());
            case GgufValueType.Int32: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, int>(cursor.Take(n * 4L, what)).ToArray());
            case GgufValueType.Float32: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, float>(cursor.Take(n * 4L, what)).ToArray());
            case GgufValueType.UInt64: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, ulong>(cursor.Take(n * 8L, what)).ToArray());
            case GgufValueType.Int64: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, long>(cursor.Take(n * 8L, what)).ToArray());
            case GgufValueType.Float64: return GgufValue.WrapArray(elementType, MemoryMarshal.Cast<byte, double>(cursor.Take(n * 8L, what)).ToArray());
            case GgufValueType.Bool:
            {
                ReadOnlySpan<byte> bytes = cursor.Take(n, what);
                var flags = new bool[n];
                for (int i = 0; i < n; i++)
                {
                    flags[i] = bytes[i] != 0;
                }

                return GgufValue.WrapArray(elementType, flags);
            }

            case GgufValueType.String:
            {
                // Grown, not preallocated: each element consumes at least 8 bytes before it is stored.
                var strings = new List<string>(InitialCapacity(count));
                for (int i = 0; i < n; i++)
                {
                    strings.Add(cursor.ReadString(what));
                }

                return GgufValue.WrapArray(elementType, strings.ToArray());
            }

            default:
            {
                var arrays = new List<GgufValue>(InitialCapacity(count));
                for (int i = 0; i < n; i++)
                {
                    arrays.Add(ReadArray(ref cursor, key, depth + 1));
                }

                return GgufValue.WrapArray(elementType, arrays.ToArray());
            }
        }
    }

    private static GgufTensorInfo ReadTensorInfo(ref Cursor cursor, int index, int alignment, HashSet<string> names)
    {
        long start = cursor.Position;
        ulong nameLength = cursor.ReadUInt64($"the name length of tensor {index}");
        if (nameLength >= GgufConstants.MaxTensorNameBytes)
        {
            throw Corrupt(start, $"tensor {index}'s name is {nameLength} bytes; names must be under {GgufConstants.MaxTensorNameBytes}");
        }

        string name = Encoding.UTF8.GetString(cursor.Take((int)nameLength, $"the name of tensor {index}"));
        if (!names.Add(name))
        {
            throw Corrupt(start, $"tensor name '{name}' appears twice");
        }

        long dimsOffset = cursor.Position;
        uint dimensionCount = cursor.ReadUInt32($"the dimension count of tensor '{name}'");
        if (dimensionCount > GgufConstants.MaxDimensions)
        {
            throw Corrupt(dimsOffset, $"tensor '{name}' has {dimensionCount} dimensions; at most {GgufConstants.MaxDimensions} are allowed");
        }

        var dimensions = new long[dimensionCount];
        long elements = 1;
        for (int d = 0; d < dimensions.Length; d++)
        {
            long at = cursor.Position;
            ulong extent = cursor.ReadUInt64($"dimension {d} of tensor '{name}'");
            if (extent > long.MaxValue)
            {
                throw Corrupt(at, $"dimension {d} of tensor '{name}' is {(long)extent}, negative");
            }

            dimensions[d] = (long)extent;
            if (extent != 0 && elements > long.MaxValue / (long)extent)
            {
                throw Corrupt(at, $"tensor '{name}' has more than 2^63 elements");
            }

            elements *= (long)extent;
        }

        long typeOffset = cursor.Position;
        uint typeId = cursor.ReadUInt32($"the type of tensor '{name}'");
        if (typeId >= 1000 || !QuantFormat.TryGet((QuantType)typeId, out QuantFormat? format) || !format.IsGgmlType)
        {
            throw Corrupt(typeOffset, $"tensor '{name}' has type id {typeId}, which is not a ggml type (removed or unknown)");
        }

        long rowLength = dimensions.Length == 0 ? 1 : dimensions[0];
        if (rowLength % format.BlockSize != 0)
        {
            throw Corrupt(typeOffset, $"tensor '{name}' has rows of {rowLength} values, not a multiple of the {format.Name} block size {format.BlockSize}");
        }

        long blocks = elements / format.BlockSize;
        if (blocks > long.MaxValue / format.BytesPerBlock)
        {
            throw Corrupt(typeOffset, $"tensor '{name}' is larger than 2^63 bytes");
        }

        long offsetAt = cursor.Position;
        ulong offset = cursor.ReadUInt64($"the data offset of tensor '{name}'");
        if (offset > long.MaxValue || offset % (ulong)alignment != 0)
        {
            throw Corrupt(offsetAt, $"tensor '{name}' has data offset {offset}, not a multiple of the alignment {alignment}");
        }

        return new GgufTensorInfo(name, format.Type, dimensions, (long)offset, blocks * format.BytesPerBlock);
    }

    private static void CheckTensorData(List<GgufTensorInfo> tensors, List<long> infoOffsets, long dataOffset, long length)
    {
        long available = length - dataOffset;
        var order = new int[tensors.Count];
        for (int i = 0; i < order.Length; i++)
        {
            GgufTensorInfo t = tensors[i];
            if (t.Offset > available || t.ByteCount > available - t.Offset)
            {
                throw Corrupt(infoOffsets[i], $"tensor '{t.Name}' has {t.ByteCount} bytes at data offset {t.Offset}, beyond the end of the file ({available} bytes of tensor data from {dataOffset})");
            }

            order[i] = i;
        }

        Array.Sort(order, (a, b) => tensors[a].Offset.CompareTo(tensors[b].Offset));
        long end = 0;
        int previous = -1;
        foreach (int i in order)
        {
            GgufTensorInfo t = tensors[i];
            if (t.ByteCount == 0)
            {
                continue;
            }

            if (t.Offset < end)
            {
                throw Corrupt(infoOffsets[i], $"tensor '{t.Name}' at data offset {t.Offset} overlaps tensor '{tensors[previous].Name}', which ends at {end}");
            }

            end = t.Offset + t.ByteCount;
            previous = i;
        }
    }

    /// <summary>A forward reader over the mapped bytes; every read first checks that the bytes exist.</summary>
    private ref struct Cursor(byte* data, long length)
    {
        private readonly byte* _data = data;
        private readonly long _length = length;

        public long Position { get; private set; }

        public readonly long Remaining => _length - Position;

        public ReadOnlySpan<byte> Take(long count, string what)
        {
            if (count > Remaining)
            {
                throw Corrupt(Position, $"the file ends inside {what} ({count} bytes needed, {Remaining} left)");
            }

            // A span cannot describe more (only possible for a string or array in a file over 2 GiB).
            if (count > int.MaxValue)
            {
                throw Corrupt(Position, $"{what} is larger than 2 GiB");
            }

            var span = new ReadOnlySpan<byte>(_data + Position, (int)count);
            Position += count;
            return span;
        }

        public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

        public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

        public string ReadString(string what)
        {
            long at = Position;
            ulong byteCount = ReadUInt64(what);
            if (byteCount > (ulong)Remaining)
            {
                throw Corrupt(at, $"{what}: a string of {byteCount} bytes, more than the {Remaining} that follow");
            }

            return Encoding.UTF8.GetString(Take((long)byteCount, what));
        }
    }
}
