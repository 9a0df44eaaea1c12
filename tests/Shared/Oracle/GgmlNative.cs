using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Oracle;

/// <summary>
/// Native ggml from LLamaSharp.Backend.Cpu, loaded by path (one variant folder per process) and called through
/// function pointers: the byte oracle of the tests and the baseline of the benchmarks.
/// </summary>
public static unsafe class GgmlNative
{
    private static readonly Lazy<Api?> s_api = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    private static string? s_loadError;

    /// <summary>Whether the native libraries loaded on this machine.</summary>
    public static bool IsAvailable => s_api.Value is not null;

    /// <summary>Why loading failed, when it did.</summary>
    public static string? LoadError { get { _ = s_api.Value; return s_loadError; } }

    /// <summary>The variant folder that was loaded (avx512, avx2, avx, noavx, or arm64).</summary>
    public static string? Variant { get; private set; }

    private static Api Native => s_api.Value ?? throw new InvalidOperationException("ggml is not available: " + s_loadError);

    /// <summary>x86-64 builds of ggml-base are compiled without FMA: their quantizers are the byte reference (docs/testing.md#the-oracle).</summary>
    public static bool IsByteReference => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static nuint TypeSize(int type) => Native.TypeSize(type);

    public static long BlockSize(int type) => Native.BlckSize(type);

    public static string TypeName(int type) => Marshal.PtrToStringUTF8((nint)Native.TypeName(type)) ?? "?";

    /// <summary><c>ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix)</c> into a fresh zeroed buffer.</summary>
    public static byte[] QuantizeChunk(int type, ReadOnlySpan<float> source, int rowLength, ReadOnlySpan<float> importance = default)
    {
        Api api = Native;
        int rows = source.Length / rowLength;
        var dst = new byte[checked((int)((long)rows * (long)api.RowSize(type, rowLength)))];
        api.QuantizeInit(type);
        fixed (float* src = source)
        fixed (float* imatrix = importance)
        fixed (byte* d = dst)
        {
            api.QuantizeChunk(type, src, d, 0, rows, rowLength, importance.IsEmpty ? null : imatrix);
        }

        return dst;
    }

    /// <summary>Calls the exported <c>quantize_row_&lt;name&gt;_ref</c> (e.g. "q8_1", "q8_K") into a zeroed buffer.</summary>
    public static byte[] QuantizeRowRef(string name, int type, ReadOnlySpan<float> source)
    {
        Api api = Native;
        var fn = (delegate* unmanaged<float*, void*, long, void>)api.Export("quantize_row_" + name + "_ref");
        var dst = new byte[checked((int)(source.Length / api.BlckSize(type) * (long)api.TypeSize(type)))];
        fixed (float* src = source)
        fixed (byte* d = dst)
        {
            fn(src, d, source.Length);
        }

        return dst;
    }

    /// <summary>Calls the CPU backend's activation quantizer <c>quantize_row_&lt;name&gt;</c> (SIMD where ggml has it).</summary>
    public static void QuantizeRowCpu(string name, ReadOnlySpan<float> source, Span<byte> destination)
    {
        var fn = (delegate* unmanaged<float*, void*, long, void>)Native.CpuExport("quantize_row_" + name);
        fixed (float* src = source)
        fixed (byte* d = destination)
        {
            fn(src, d, source.Length);
        }
    }

    /// <summary>Dequantizes with ggml: <c>dequantize_row_*</c>, or the fp16 / bf16 row converters.</summary>
    public static float[] Dequantize(int type, ReadOnlySpan<byte> source)
    {
        Api api = Native;
        long values = source.Length / (long)api.TypeSize(type) * api.BlckSize(type);
        var dst = new float[values];
        string name = TypeName(type);
        string symbol = name switch
        {
            "f16" => "ggml_fp16_to_fp32_row",
            "bf16" => "ggml_bf16_to_fp32_row",
            _ => "dequantize_row_" + name,
        };
        var fn = (delegate* unmanaged<void*, float*, long, void>)api.Export(symbol);
        fixed (byte* s = source)
        fixed (float* d = dst)
        {
            fn(s, d, values);
        }

        return dst;
    }

    /// <summary>Resolves a function of libggml-cpu (vec_dot kernels and others) for benchmarks.</summary>
    public static nint CpuExport(string name) => Native.CpuExport(name);

    /// <summary>Resolves a function of libggml-base.</summary>
    public static nint BaseExport(string name) => Native.Export(name);

    private static Api? Load()
    {
        try
        {
            string root = Path.Combine(AppContext.BaseDirectory, "ggml");
            string dir;
            if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            {
                dir = Path.Combine(root, "linux-arm64");
                Variant = "arm64";
            }
            else
            {
                Variant = Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Avx.IsSupported ? "avx" : "noavx";
                dir = Path.Combine(root, "linux-x64", Variant);
            }

            nint baseLib = NativeLibrary.Load(Path.Combine(dir, "libggml-base.so"));
            nint cpuLib = NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so"));
            var api = new Api(baseLib, cpuLib);
            ((delegate* unmanaged<void>)api.CpuExport("ggml_cpu_init"))();
            return api;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or IOException)
        {
            s_loadError = ex.Message;
            return null;
        }
    }

    private sealed class Api(nint baseLib, nint cpuLib)
    {
        public readonly delegate* unmanaged<int, nuint> TypeSize = (delegate* unmanaged<int, nuint>)NativeLibrary.GetExport(baseLib, "ggml_type_size");
        public readonly delegate* unmanaged<int, long> BlckSize = (delegate* unmanaged<int, long>)NativeLibrary.GetExport(baseLib, "ggml_blck_size");
        public readonly delegate* unmanaged<int, byte*> TypeName = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(baseLib, "ggml_type_name");
        public readonly delegate* unmanaged<int, long, nuint> RowSize = (delegate* unmanaged<int, long, nuint>)NativeLibrary.GetExport(baseLib, "ggml_row_size");
        public readonly delegate* unmanaged<int, void> QuantizeInit = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(baseLib, "ggml_quantize_init");
        public readonly delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint> QuantizeChunk =
            (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)NativeLibrary.GetExport(baseLib, "ggml_quantize_chunk");

        public nint Export(string name) => NativeLibrary.GetExport(baseLib, name);

        public nint CpuExport(string name) => NativeLibrary.GetExport(cpuLib, name);
    }
}
