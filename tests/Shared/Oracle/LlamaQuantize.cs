using System.Runtime.InteropServices;
using System.Text;

namespace Quantization.Oracle;

/// <summary>
/// llama.cpp's <c>llama_model_quantize</c> (libllama of LLamaSharp.Backend.Cpu, the same variant folder as
/// <see cref="GgmlNative"/>): the oracle of whole-model quantization. x64 only: the arm64 folder has no libllama.
/// </summary>
public static unsafe class LlamaQuantize
{
    private static readonly Lazy<Api?> s_api = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    private static string? s_loadError;
    private static readonly Lock s_gate = new();

    /// <summary>Whether libllama loaded on this machine.</summary>
    public static bool IsAvailable => s_api.Value is not null;

    /// <summary>Why loading failed, when it did.</summary>
    public static string? LoadError { get { _ = s_api.Value; return s_loadError; } }

    private static Api Native => s_api.Value ?? throw new InvalidOperationException("libllama is not available: " + s_loadError);

    /// <summary>The parameters <c>llama_model_quantize_default_params()</c> returns, as raw bytes of the C struct.</summary>
    public static QuantizeParams DefaultParams()
    {
        QuantizeParams p = default;
        Native.DefaultParams(&p);
        return p;
    }

    /// <summary>
    /// Runs <c>llama_model_quantize(input, output, params)</c> with <paramref name="ftype"/> and optional importance
    /// (one <c>llama_model_imatrix_data</c> per entry) and overrides; returns its status (0 = success).
    /// </summary>
    public static uint Quantize(string input, string output, int ftype, int threads = 1,
                                IReadOnlyDictionary<string, float[]>? importance = null,
                                int outputTensorType = -1, int tokenEmbeddingType = -1, bool leaveOutputTensor = false, bool pure = false,
                                IReadOnlyList<(string Pattern, int Type)>? tensorTypes = null)
    {
        Api api = Native;
        QuantizeParams p = DefaultParams();
        p.Threads = threads;
        p.FileType = ftype;
        if (outputTensorType >= 0)
        {
            p.OutputTensorType = outputTensorType;
        }

        if (tokenEmbeddingType >= 0)
        {
            p.TokenEmbeddingType = tokenEmbeddingType;
        }

        p.QuantizeOutputTensor = (byte)(leaveOutputTensor ? 0 : 1);
        p.Pure = (byte)(pure ? 1 : 0);
        var pins = new List<GCHandle>();
        var strings = new List<nint>();
        try
        {
            ImatrixEntry[]? entries = null;
            if (importance is not null)
            {
                entries = new ImatrixEntry[importance.Count + 1];
                int i = 0;
                foreach (KeyValuePair<string, float[]> kv in importance)
                {
                    nint name = Marshal.StringToCoTaskMemUTF8(kv.Key);
                    strings.Add(name);
                    GCHandle data = GCHandle.Alloc(kv.Value, GCHandleType.Pinned);
                    pins.Add(data);
                    entries[i++] = new ImatrixEntry { Name = name, Data = data.AddrOfPinnedObject(), Size = (nuint)kv.Value.Length };
                }
            }

            TensorTypeEntry[]? overrides = null;
            if (tensorTypes is not null)
            {
                overrides = new TensorTypeEntry[tensorTypes.Count + 1];
                for (int i = 0; i < tensorTypes.Count; i++)
                {
                    nint pattern = Marshal.StringToCoTaskMemUTF8(tensorTypes[i].Pattern);
                    strings.Add(pattern);
                    overrides[i] = new TensorTypeEntry { Pattern = pattern, Type = tensorTypes[i].Type };
                }
            }

            byte[] inPath = Encoding.UTF8.GetBytes(input + "\0"), outPath = Encoding.UTF8.GetBytes(output + "\0");
            fixed (ImatrixEntry* imatrix = entries)
            fixed (TensorTypeEntry* tt = overrides)
            fixed (byte* i = inPath)
            fixed (byte* o = outPath)
            {
                p.Imatrix = (nint)imatrix;
                p.TensorTypes = (nint)tt;
                lock (s_gate)
                {
                    return api.Quantize(i, o, &p);
                }
            }
        }
        finally
        {
            foreach (GCHandle h in pins)
            {
                h.Free();
            }

            foreach (nint s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    /// <summary><c>llama_model_quantize_params</c> (include/llama.h): 56 bytes on 64-bit targets.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 56)]
    public struct QuantizeParams
    {
        [FieldOffset(0)] public int Threads;
        [FieldOffset(4)] public int FileType;
        [FieldOffset(8)] public int OutputTensorType;
        [FieldOffset(12)] public int TokenEmbeddingType;
        [FieldOffset(16)] public byte AllowRequantize;
        [FieldOffset(17)] public byte QuantizeOutputTensor;
        [FieldOffset(18)] public byte OnlyCopy;
        [FieldOffset(19)] public byte Pure;
        [FieldOffset(20)] public byte KeepSplit;
        [FieldOffset(21)] public byte DryRun;
        [FieldOffset(24)] public nint Imatrix;
        [FieldOffset(32)] public nint KvOverrides;
        [FieldOffset(40)] public nint TensorTypes;
        [FieldOffset(48)] public nint PruneLayers;
    }

    /// <summary><c>llama_model_imatrix_data</c>: a null <see cref="Name"/> ends the array.</summary>
    private struct ImatrixEntry
    {
        public nint Name;
        public nint Data;
        public nuint Size;
    }

    /// <summary><c>llama_model_tensor_override</c>: a null <see cref="Pattern"/> ends the array.</summary>
    private struct TensorTypeEntry
    {
        public nint Pattern;
        public int Type;
    }

    private static Api? Load()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            s_loadError = "the package ships libllama for x64 only";
            return null;
        }

        if (!GgmlNative.IsAvailable)
        {
            s_loadError = "ggml is not available: " + GgmlNative.LoadError;
            return null;
        }

        try
        {
            // The same variant folder as ggml-base / ggml-cpu, already loaded: a second variant would crash the process.
            string dir = Path.Combine(AppContext.BaseDirectory, "ggml", "linux-x64", GgmlNative.Variant!);
            NativeLibrary.Load(Path.Combine(dir, "libggml.so"));
            nint lib = NativeLibrary.Load(Path.Combine(dir, "libllama.so"));
            var api = new Api(lib);
            ((delegate* unmanaged<delegate* unmanaged<int, byte*, void*, void>, void*, void>)NativeLibrary.GetExport(lib, "llama_log_set"))(&Silent, null);
            ((delegate* unmanaged<void>)NativeLibrary.GetExport(lib, "llama_backend_init"))();
            return api;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or IOException)
        {
            s_loadError = ex.Message;
            return null;
        }
    }

    [UnmanagedCallersOnly]
    private static void Silent(int level, byte* text, void* userData)
    {
    }

    private sealed class Api(nint lib)
    {
        // Returned by value: on x86-64 SysV a struct over 16 bytes comes back through a hidden result pointer, the first argument.
        public readonly delegate* unmanaged<QuantizeParams*, QuantizeParams*> DefaultParams =
            (delegate* unmanaged<QuantizeParams*, QuantizeParams*>)NativeLibrary.GetExport(lib, "llama_model_quantize_default_params");

        public readonly delegate* unmanaged<byte*, byte*, QuantizeParams*, uint> Quantize =
            (delegate* unmanaged<byte*, byte*, QuantizeParams*, uint>)NativeLibrary.GetExport(lib, "llama_model_quantize");
    }
}
