using System.Runtime.InteropServices;
using System.Text;

namespace Quantization.Oracle;

/// <summary>A metadata value as ggml's gguf API stores it: the type ids, and the raw bytes or strings.</summary>
public sealed record GgmlKeyValue(string Key, int Type, int ElementType, byte[] Data, string[] Strings);

/// <summary>A tensor as ggml's gguf API describes it.</summary>
public sealed record GgmlTensorEntry(string Name, int Type, long[] Ne, long Offset, long Size);

/// <summary>What <c>gguf_init_from_file</c> read.</summary>
public sealed record GgmlGgufContents(uint Version, long Alignment, long DataOffset, GgmlKeyValue[] Metadata, GgmlTensorEntry[] Tensors);

/// <summary>
/// ggml's GGUF reader and writer (<c>gguf_init_from_file</c>, <c>gguf_init_empty</c>, <c>gguf_set_*</c>,
/// <c>gguf_add_tensor</c>, <c>gguf_write_to_file</c>) called through function pointers: the interop oracle.
/// </summary>
public static unsafe class GgmlGguf
{
    private const int TypeString = 8;
    private const int TypeArray = 9;

    [StructLayout(LayoutKind.Sequential)]
    private struct GgufInitParams
    {
        public byte NoAlloc;
        public nint Context;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct GgmlInitParams
    {
        public nuint MemSize;
        public nint MemBuffer;
        public byte NoAlloc;
    }

    private static nint F(string name) => GgmlNative.BaseExport(name);

    /// <summary>Reads <paramref name="path"/> with <c>gguf_init_from_file</c> (no tensor context); null when ggml rejects it.</summary>
    public static GgmlGgufContents? Read(string path)
    {
        var init = (delegate* unmanaged<byte*, GgufInitParams, nint>)F("gguf_init_from_file");
        byte[] name = Encoding.UTF8.GetBytes(path + "\0");
        nint ctx;
        fixed (byte* p = name)
        {
            ctx = init(p, new GgufInitParams { NoAlloc = 1, Context = 0 });
        }

        if (ctx == 0)
        {
            return null;
        }

        try
        {
            var nKv = (delegate* unmanaged<nint, long>)F("gguf_get_n_kv");
            var getKey = (delegate* unmanaged<nint, long, byte*>)F("gguf_get_key");
            var kvType = (delegate* unmanaged<nint, long, int>)F("gguf_get_kv_type");
            var arrType = (delegate* unmanaged<nint, long, int>)F("gguf_get_arr_type");
            var arrN = (delegate* unmanaged<nint, long, nuint>)F("gguf_get_arr_n");
            var arrData = (delegate* unmanaged<nint, long, byte*>)F("gguf_get_arr_data");
            var arrStr = (delegate* unmanaged<nint, long, nuint, byte*>)F("gguf_get_arr_str");
            var valData = (delegate* unmanaged<nint, long, byte*>)F("gguf_get_val_data");
            var valStr = (delegate* unmanaged<nint, long, byte*>)F("gguf_get_val_str");

            var metadata = new GgmlKeyValue[nKv(ctx)];
            for (long i = 0; i < metadata.Length; i++)
            {
                string key = Utf8(getKey(ctx, i));
                int type = kvType(ctx, i);
                if (type == TypeArray)
                {
                    int element = arrType(ctx, i);
                    long n = (long)arrN(ctx, i);
                    if (element == TypeString)
                    {
                        var strings = new string[n];
                        for (long j = 0; j < n; j++)
                        {
                            strings[j] = Utf8(arrStr(ctx, i, (nuint)j));
                        }

                        metadata[i] = new(key, type, element, [], strings);
                    }
                    else
                    {
                        long bytes = n * TypeSize(element);
                        metadata[i] = new(key, type, element, new ReadOnlySpan<byte>(arrData(ctx, i), (int)bytes).ToArray(), []);
                    }
                }
                else if (type == TypeString)
                {
                    metadata[i] = new(key, type, type, [], [Utf8(valStr(ctx, i))]);
                }
                else
                {
                    metadata[i] = new(key, type, type, new ReadOnlySpan<byte>(valData(ctx, i), TypeSize(type)).ToArray(), []);
                }
            }

            var nTensors = (delegate* unmanaged<nint, long>)F("gguf_get_n_tensors");
            var tName = (delegate* unmanaged<nint, long, byte*>)F("gguf_get_tensor_name");
            var tType = (delegate* unmanaged<nint, long, int>)F("gguf_get_tensor_type");
            var tOffset = (delegate* unmanaged<nint, long, nuint>)F("gguf_get_tensor_offset");
            var tSize = (delegate* unmanaged<nint, long, nuint>)F("gguf_get_tensor_size");
            var tNe = (delegate* unmanaged<nint, long, long*>)F("gguf_get_tensor_ne");
            var tensors = new GgmlTensorEntry[nTensors(ctx)];
            for (long i = 0; i < tensors.Length; i++)
            {
                long* ne = tNe(ctx, i);
                tensors[i] = new(Utf8(tName(ctx, i)), tType(ctx, i), [ne[0], ne[1], ne[2], ne[3]], (long)tOffset(ctx, i), (long)tSize(ctx, i));
            }

            return new GgmlGgufContents(
                ((delegate* unmanaged<nint, uint>)F("gguf_get_version"))(ctx),
                (long)((delegate* unmanaged<nint, nuint>)F("gguf_get_alignment"))(ctx),
                (long)((delegate* unmanaged<nint, nuint>)F("gguf_get_data_offset"))(ctx),
                metadata,
                tensors);
        }
        finally
        {
            ((delegate* unmanaged<nint, void>)F("gguf_free"))(ctx);
        }
    }

    /// <summary>
    /// Writes a GGUF file with ggml: metadata in order (scalars via <c>gguf_set_val_*</c>, arrays via
    /// <c>gguf_set_arr_data</c> / <c>gguf_set_arr_str</c>), then the tensors via <c>ggml_new_tensor</c> and <c>gguf_add_tensor</c>.
    /// </summary>
    public static void Write(string path, IReadOnlyList<GgmlKeyValue> metadata, IReadOnlyList<(string Name, int Type, long[] Ne, byte[] Data)> tensors)
    {
        nint ctx = ((delegate* unmanaged<nint>)F("gguf_init_empty"))();
        long memory = 1 << 20;
        foreach (var t in tensors)
        {
            memory += t.Data.Length + 1024;
        }

        nint ggml = ((delegate* unmanaged<GgmlInitParams, nint>)F("ggml_init"))(new GgmlInitParams { MemSize = (nuint)memory, MemBuffer = 0, NoAlloc = 0 });
        var handles = new List<GCHandle>();
        try
        {
            foreach (GgmlKeyValue kv in metadata)
            {
                fixed (byte* key = Encoding.UTF8.GetBytes(kv.Key + "\0"))
                {
                    if (kv.Type == TypeArray && kv.ElementType == TypeString)
                    {
                        var pointers = new nint[kv.Strings.Length];
                        for (int j = 0; j < pointers.Length; j++)
                        {
                            GCHandle h = GCHandle.Alloc(Encoding.UTF8.GetBytes(kv.Strings[j] + "\0"), GCHandleType.Pinned);
                            handles.Add(h);
                            pointers[j] = h.AddrOfPinnedObject();
                        }

                        fixed (nint* p = pointers)
                        {
                            ((delegate* unmanaged<nint, byte*, nint*, nuint, void>)F("gguf_set_arr_str"))(ctx, key, p, (nuint)pointers.Length);
                        }
                    }
                    else if (kv.Type == TypeArray)
                    {
                        fixed (byte* d = kv.Data)
                        {
                            ((delegate* unmanaged<nint, byte*, int, byte*, nuint, void>)F("gguf_set_arr_data"))(
                                ctx, key, kv.ElementType, d, (nuint)(kv.Data.Length / TypeSize(kv.ElementType)));
                        }
                    }
                    else if (kv.Type == TypeString)
                    {
                        fixed (byte* s = Encoding.UTF8.GetBytes(kv.Strings[0] + "\0"))
                        {
                            ((delegate* unmanaged<nint, byte*, byte*, void>)F("gguf_set_val_str"))(ctx, key, s);
                        }
                    }
                    else
                    {
                        SetScalar(ctx, key, kv.Type, kv.Data);
                    }
                }
            }

            foreach (var t in tensors)
            {
                fixed (long* ne = t.Ne)
                {
                    nint tensor = ((delegate* unmanaged<nint, int, int, long*, nint>)F("ggml_new_tensor"))(ggml, t.Type, t.Ne.Length, ne);
                    fixed (byte* name = Encoding.UTF8.GetBytes(t.Name + "\0"))
                    {
                        ((delegate* unmanaged<nint, byte*, nint>)F("ggml_set_name"))(tensor, name);
                    }

                    byte* data = ((delegate* unmanaged<nint, byte*>)F("ggml_get_data"))(tensor);
                    t.Data.CopyTo(new Span<byte>(data, t.Data.Length));
                    ((delegate* unmanaged<nint, nint, void>)F("gguf_add_tensor"))(ctx, tensor);
                }
            }

            fixed (byte* file = Encoding.UTF8.GetBytes(path + "\0"))
            {
                if (((delegate* unmanaged<nint, byte*, byte, byte>)F("gguf_write_to_file"))(ctx, file, 0) == 0)
                {
                    throw new IOException("gguf_write_to_file failed for " + path);
                }
            }
        }
        finally
        {
            foreach (GCHandle h in handles)
            {
                h.Free();
            }

            ((delegate* unmanaged<nint, void>)F("ggml_free"))(ggml);
            ((delegate* unmanaged<nint, void>)F("gguf_free"))(ctx);
        }
    }

    private static void SetScalar(nint ctx, byte* key, int type, byte[] data)
    {
        fixed (byte* d = data)
        {
            switch (type)
            {
                case 0: ((delegate* unmanaged<nint, byte*, byte, void>)F("gguf_set_val_u8"))(ctx, key, d[0]); break;
                case 1: ((delegate* unmanaged<nint, byte*, sbyte, void>)F("gguf_set_val_i8"))(ctx, key, (sbyte)d[0]); break;
                case 2: ((delegate* unmanaged<nint, byte*, ushort, void>)F("gguf_set_val_u16"))(ctx, key, *(ushort*)d); break;
                case 3: ((delegate* unmanaged<nint, byte*, short, void>)F("gguf_set_val_i16"))(ctx, key, *(short*)d); break;
                case 4: ((delegate* unmanaged<nint, byte*, uint, void>)F("gguf_set_val_u32"))(ctx, key, *(uint*)d); break;
                case 5: ((delegate* unmanaged<nint, byte*, int, void>)F("gguf_set_val_i32"))(ctx, key, *(int*)d); break;
                case 6: ((delegate* unmanaged<nint, byte*, float, void>)F("gguf_set_val_f32"))(ctx, key, *(float*)d); break;
                case 7: ((delegate* unmanaged<nint, byte*, byte, void>)F("gguf_set_val_bool"))(ctx, key, d[0]); break;
                case 10: ((delegate* unmanaged<nint, byte*, ulong, void>)F("gguf_set_val_u64"))(ctx, key, *(ulong*)d); break;
                case 11: ((delegate* unmanaged<nint, byte*, long, void>)F("gguf_set_val_i64"))(ctx, key, *(long*)d); break;
                case 12: ((delegate* unmanaged<nint, byte*, double, void>)F("gguf_set_val_f64"))(ctx, key, *(double*)d); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a scalar gguf type");
            }
        }
    }

    /// <summary>Bytes per element of a fixed-size gguf type (gguf_type_size is not exported with C linkage).</summary>
    private static int TypeSize(int type) => type switch
    {
        0 or 1 or 7 => 1,
        2 or 3 => 2,
        4 or 5 or 6 => 4,
        10 or 11 or 12 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a fixed-size gguf type"),
    };

    private static string Utf8(byte* s) => Marshal.PtrToStringUTF8((nint)s) ?? "";
}
