using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Quantization.Oracle;

namespace Quantization.Benchmarks;

/// <summary>
/// llama.cpp's real decode path for one weight matrix: <c>y = ggml_mul_mat(W, x)</c> as a one-node graph computed by the
/// CPU backend (<c>ggml_backend_cpu_init</c>, one thread, a threadpool attached as llama.cpp's tools do). With
/// <c>repack</c> the weights live in the CPU backend's extra buffer type <c>CPU_REPACK</c>
/// (<c>ggml_backend_dev_get_extra_bufts</c>): <c>ggml_backend_tensor_set</c> re-lays them out (q4_0 → q4_0_8x8 on AVX2 /
/// AVX-512, ...) and the mul_mat runs ggml's repacked gemv; without it they live in a plain CPU buffer and the mul_mat
/// runs <c>ggml_vec_dot_*</c> row by row (the path of every format ggml does not repack).
/// Everything is built once here; <see cref="Compute"/> only runs the graph, which quantizes x to the activation format
/// and multiplies, as every llama.cpp decode step does.
/// </summary>
internal sealed unsafe class GgmlMulMatGraph : IDisposable
{
    private const int GgmlStatusSuccess = 0;

    private nint _weightContext;
    private nint _ioContext;
    private nint _weightBuffer;
    private nint _ioBuffer;
    private nint _backend;
    private nint _threadpool;
    private readonly nint _graph;
    private readonly nint _x;
    private readonly nint _y;
    private readonly int _rows;
    private readonly delegate* unmanaged<nint, nint, int> _graphCompute;

    [StructLayout(LayoutKind.Sequential)]
    private struct InitParams
    {
        public nuint MemSize;
        public nint MemBuffer;
        public byte NoAlloc; // C bool
    }

    /// <summary>Whether the weights are in the CPU_REPACK buffer and the mul_mat runs the repacked kernel.</summary>
    public bool IsRepacked { get; }

    /// <summary>The layout ggml chose ("q4_0_8x8"), from its repack log line; "plain" when not repacked.</summary>
    public string Layout { get; }

    private GgmlMulMatGraph(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns, bool repack)
    {
        _rows = rows;
        nint backendCpuInit = GgmlNative.CpuExport("ggml_backend_cpu_init");
        _backend = ((delegate* unmanaged<nint>)backendCpuInit)();
        if (_backend == 0)
        {
            throw new InvalidOperationException("ggml_backend_cpu_init failed.");
        }

        ((delegate* unmanaged<nint, int, void>)GgmlNative.CpuExport("ggml_backend_cpu_set_n_threads"))(_backend, 1);
        byte* tpParams = stackalloc byte[4096]; // struct ggml_threadpool_params is ~528 bytes; ggml fills it
        new Span<byte>(tpParams, 4096).Clear();
        ((delegate* unmanaged<byte*, int, void>)GgmlNative.BaseExport("ggml_threadpool_params_init"))(tpParams, 1);
        _threadpool = ((delegate* unmanaged<byte*, nint>)GgmlNative.CpuExport("ggml_threadpool_new"))(tpParams);
        if (_threadpool == 0)
        {
            throw new InvalidOperationException("ggml_threadpool_new failed.");
        }

        ((delegate* unmanaged<nint, nint, void>)GgmlNative.CpuExport("ggml_backend_cpu_set_threadpool"))(_backend, _threadpool);

        nint cpuBuft = ((delegate* unmanaged<nint>)GgmlNative.BaseExport("ggml_backend_cpu_buffer_type"))();
        nint weightBuft = cpuBuft;
        nint device = 0;
        if (repack)
        {
            (weightBuft, device) = RepackBufferType();
        }

        var newTensor2d = (delegate* unmanaged<nint, int, long, long, nint>)GgmlNative.BaseExport("ggml_new_tensor_2d");
        var allocTensors = (delegate* unmanaged<nint, nint, nint>)GgmlNative.BaseExport("ggml_backend_alloc_ctx_tensors_from_buft");
        nuint tensorOverhead = ((delegate* unmanaged<nuint>)GgmlNative.BaseExport("ggml_tensor_overhead"))();
        nuint graphOverhead = ((delegate* unmanaged<nuint>)GgmlNative.BaseExport("ggml_graph_overhead"))();

        // Weights: a context of their own, allocated in the weight buffer type (CPU_REPACK or CPU).
        _weightContext = Init(tensorOverhead * 2);
        nint w = newTensor2d(_weightContext, (int)type, columns, rows);
        _weightBuffer = allocTensors(_weightContext, weightBuft);
        if (_weightBuffer == 0)
        {
            throw new InvalidOperationException("ggml could not allocate the weight buffer.");
        }

        // Activations, result and graph: a plain CPU buffer.
        _ioContext = Init(tensorOverhead * 4 + graphOverhead);
        _x = newTensor2d(_ioContext, (int)QuantType.F32, columns, 1);
        _y = ((delegate* unmanaged<nint, nint, nint, nint>)GgmlNative.BaseExport("ggml_mul_mat"))(_ioContext, w, _x);
        _graph = ((delegate* unmanaged<nint, nint>)GgmlNative.BaseExport("ggml_new_graph"))(_ioContext);
        ((delegate* unmanaged<nint, nint, void>)GgmlNative.BaseExport("ggml_build_forward_expand"))(_graph, _y);
        _ioBuffer = allocTensors(_ioContext, cpuBuft);
        if (_ioBuffer == 0)
        {
            throw new InvalidOperationException("ggml could not allocate the activation buffer.");
        }

        if (repack)
        {
            // The repack buffer crashes on tensors it cannot re-lay out (null traits), so ask first: the CPU device
            // supports this mul_mat from CPU_REPACK only when ggml has a repacked kernel for the type on this CPU.
            var supportsOp = (delegate* unmanaged<nint, nint, byte>)GgmlNative.BaseExport("ggml_backend_dev_supports_op");
            if (supportsOp(device, _y) == 0)
            {
                throw new NotSupportedException($"ggml does not repack {type} on this CPU.");
            }
        }

        var tensorSet = (delegate* unmanaged<nint, void*, nuint, nuint, void>)GgmlNative.BaseExport("ggml_backend_tensor_set");
        // ggml logs the layout it chose ("repack tensor ... with q4_0_8x8") at debug level: captured, not printed.
        var logSet = (delegate* unmanaged<delegate* unmanaged<int, byte*, nint, void>, nint, void>)GgmlNative.BaseExport("ggml_log_set");
        t_repackLog = null;
        logSet(&OnLog, 0);
        try
        {
            fixed (byte* source = weights)
            {
                tensorSet(w, source, 0, (nuint)weights.Length);
            }
        }
        finally
        {
            logSet(null, 0); // back to ggml's default logger (stderr)
        }

        string? layout = null;
        if (repack && t_repackLog is { } line && line.LastIndexOf(" with ", StringComparison.Ordinal) is int at and >= 0)
        {
            layout = line[(at + 6)..].Trim();
        }

        IsRepacked = repack;
        Layout = layout ?? "plain";
        _graphCompute = (delegate* unmanaged<nint, nint, int>)GgmlNative.BaseExport("ggml_backend_graph_compute");
    }

    /// <summary>
    /// The graph over <paramref name="weights"/> in CPU_REPACK when ggml repacks <paramref name="type"/> on this CPU
    /// (<paramref name="repack"/> true; null otherwise), or in a plain CPU buffer (<paramref name="repack"/> false).
    /// </summary>
    public static GgmlMulMatGraph? TryCreate(QuantType type, ReadOnlySpan<byte> weights, int rows, int columns, bool repack)
    {
        if (repack && !MayRepack(type))
        {
            return null;
        }

        try
        {
            return new GgmlMulMatGraph(type, weights, rows, columns, repack);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The CPU features the loaded ggml build reports (what its repack choice depends on), e.g. "avx2 avx512".</summary>
    public static string CpuFeatures()
    {
        string[] names = ["avx2", "avx512", "avx512_vnni", "neon", "dotprod", "matmul_int8", "sve"];
        return string.Join(' ', names.Where(n => ((delegate* unmanaged<int>)GgmlNative.CpuExport("ggml_cpu_has_" + n))() != 0)) is { Length: > 0 } s
            ? s
            : "none of avx2/avx512/neon";
    }

    /// <summary>The types llama.cpp's CPU_REPACK buffer knows at all (which of them it repacks depends on the CPU).</summary>
    public static bool MayRepack(QuantType type) => MatVecBenchmarks.GraphTypes.Contains(type);

    /// <summary>Copies x into the graph's input tensor (f32, <c>columns</c> values).</summary>
    public void SetInput(ReadOnlySpan<float> x)
    {
        var tensorSet = (delegate* unmanaged<nint, void*, nuint, nuint, void>)GgmlNative.BaseExport("ggml_backend_tensor_set");
        fixed (float* p = x)
        {
            tensorSet(_x, p, 0, (nuint)(x.Length * sizeof(float)));
        }
    }

    /// <summary>Runs the graph: quantizes x and multiplies (the timed part).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Compute()
    {
        if (_graphCompute(_backend, _graph) != GgmlStatusSuccess)
        {
            ThrowComputeFailed();
        }
    }

    /// <summary>Copies the result (<c>rows</c> values) out of the graph.</summary>
    public void GetOutput(Span<float> y)
    {
        var tensorGet = (delegate* unmanaged<nint, void*, nuint, nuint, void>)GgmlNative.BaseExport("ggml_backend_tensor_get");
        fixed (float* p = y)
        {
            tensorGet(_y, p, 0, (nuint)(_rows * sizeof(float)));
        }
    }

    public void Dispose()
    {
        var bufferFree = (delegate* unmanaged<nint, void>)GgmlNative.BaseExport("ggml_backend_buffer_free");
        var free = (delegate* unmanaged<nint, void>)GgmlNative.BaseExport("ggml_free");
        if (_ioBuffer != 0) { bufferFree(_ioBuffer); _ioBuffer = 0; }
        if (_weightBuffer != 0) { bufferFree(_weightBuffer); _weightBuffer = 0; }
        if (_ioContext != 0) { free(_ioContext); _ioContext = 0; }
        if (_weightContext != 0) { free(_weightContext); _weightContext = 0; }
        if (_backend != 0)
        {
            ((delegate* unmanaged<nint, void>)GgmlNative.BaseExport("ggml_backend_free"))(_backend);
            _backend = 0;
        }

        if (_threadpool != 0)
        {
            ((delegate* unmanaged<nint, void>)GgmlNative.CpuExport("ggml_threadpool_free"))(_threadpool);
            _threadpool = 0;
        }
    }

    private static nint Init(nuint bytes)
    {
        var init = (delegate* unmanaged<InitParams, nint>)GgmlNative.BaseExport("ggml_init");
        nint ctx = init(new InitParams { MemSize = bytes, MemBuffer = 0, NoAlloc = 1 });
        return ctx != 0 ? ctx : throw new InvalidOperationException("ggml_init failed.");
    }

    /// <summary>The CPU device's extra buffer type named CPU_REPACK (llama.cpp's lookup), and the device.</summary>
    private static (nint Buft, nint Device) RepackBufferType()
    {
        nint reg = ((delegate* unmanaged<nint>)GgmlNative.CpuExport("ggml_backend_cpu_reg"))();
        nint device = ((delegate* unmanaged<nint, nuint, nint>)GgmlNative.BaseExport("ggml_backend_reg_dev_get"))(reg, 0);
        nint getExtra;
        fixed (byte* name = "ggml_backend_dev_get_extra_bufts"u8)
        {
            getExtra = ((delegate* unmanaged<nint, byte*, nint>)GgmlNative.BaseExport("ggml_backend_reg_get_proc_address"))(reg, name);
        }

        if (getExtra == 0)
        {
            throw new NotSupportedException("ggml's CPU backend has no extra buffer types.");
        }

        var buftName = (delegate* unmanaged<nint, byte*>)GgmlNative.BaseExport("ggml_backend_buft_name");
        for (nint* p = ((delegate* unmanaged<nint, nint*>)getExtra)(device); p != null && *p != 0; p++)
        {
            if (Marshal.PtrToStringUTF8((nint)buftName(*p)) == "CPU_REPACK")
            {
                return (*p, device);
            }
        }

        throw new NotSupportedException("ggml's CPU backend has no CPU_REPACK buffer type.");
    }

    [ThreadStatic]
    private static string? t_repackLog;

    [UnmanagedCallersOnly]
    private static void OnLog(int level, byte* text, nint userData)
    {
        string? s = Marshal.PtrToStringUTF8((nint)text);
        if (s is not null && s.Contains("repack tensor", StringComparison.Ordinal))
        {
            t_repackLog = s;
        }
    }

    private static void ThrowComputeFailed() => throw new InvalidOperationException("ggml_backend_graph_compute failed.");
}
