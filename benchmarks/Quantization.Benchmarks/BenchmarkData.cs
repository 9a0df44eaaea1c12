using System.Runtime.InteropServices;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Benchmarks;

/// <summary>The matrix every benchmark works on, and the native buffers it lives in.</summary>
internal static unsafe class BenchmarkData
{
    /// <summary>Rows of the benchmark matrix.</summary>
    public const int Rows = 64;

    /// <summary>Values per row (a typical hidden size; a multiple of every block size, 256 included).</summary>
    public const int Columns = 4096;

    /// <summary>Values per benchmark invocation: <c>OperationsPerInvoke</c>, so the reported time is per value.</summary>
    public const int Values = Rows * Columns;

    /// <summary>Transformer-like weights: N(0, 0.02²) with about 0.1% outliers ×20 (the conformance tests' generator).</summary>
    public static float[] Matrix() => TestData.TransformerLike(0x5EED_BE4C, Values);

    /// <summary>An imatrix-like importance vector, one positive weight per column.</summary>
    public static float[] Importance() => TestData.Importance(0x1A7B1C, Columns, withZeros: false);

    /// <summary>
    /// An importance vector of <paramref name="columns"/> weights for a type ggml does not quantize without one (IQ2_XXS,
    /// IQ2_XS, IQ1_S: <see cref="Formats.ImportanceUse.Required"/>), else null: every benchmark's weights can then be made.
    /// </summary>
    public static float[]? RequiredImportance(QuantType type, int columns) =>
        Formats.FormatRegistry.TryGet(type)?.Importance == Formats.ImportanceUse.Required
            ? TestData.Importance(0x1A7B1C, columns, withZeros: false)
            : null;

    /// <summary>
    /// A zeroed native buffer at a fixed offset from a page boundary. Every process gets the same address layout modulo
    /// 4 KiB, so 4K-aliasing between a kernel's input and output streams is the same in every run and for both sides
    /// (inputs start on a page, outputs <see cref="OutputOffset"/> bytes past one).
    /// </summary>
    public static T* Alloc<T>(long count, int offset = 0) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)offset, 4095u);
        nuint bytes = checked((nuint)(count * sizeof(T)));
        byte* p = (byte*)NativeMemory.AlignedAlloc(bytes + 4096, 4096);
        NativeMemory.Clear(p, bytes + 4096);
        return (T*)(p + offset); // Free rounds down to the page to find the allocation again
    }

    /// <summary>Where output buffers start within their page: half a page from the inputs.</summary>
    public const int OutputOffset = 2048;

    public static T* Copy<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        T* p = Alloc<T>(source.Length);
        source.CopyTo(new Span<T>(p, source.Length));
        return p;
    }

    public static void Free(void* p)
    {
        if (p != null)
        {
            NativeMemory.AlignedFree((void*)((nint)p & ~(nint)4095));
        }
    }

    /// <summary>Bytes <see cref="EvictCaches"/> reads: several times any last-level cache of the machines measured (32 MB L3).</summary>
    public const int EvictionBytes = 128 << 20;

    private static byte* s_eviction;

    /// <summary>The result of the last eviction read, kept so the read cannot be optimized away.</summary>
    public static ulong EvictionSum { get; private set; }

    /// <summary>
    /// Reads <see cref="EvictionBytes"/> of unrelated memory so the next call finds none of its data in any cache, as a
    /// decode step finds each weight matrix (the model is far larger than the caches). Not timed.
    /// </summary>
    public static void EvictCaches()
    {
        if (s_eviction == null)
        {
            s_eviction = Alloc<byte>(EvictionBytes);
            new Span<byte>(s_eviction, EvictionBytes).Fill(0x5A);
        }

        EvictionSum += MatVecBenchmarks.ReadSum(s_eviction, EvictionBytes);
    }

    /// <summary>Loads native ggml (the avx512 or avx2 build, matching the tier the runtime allows) or throws.</summary>
    public static void RequireGgml()
    {
        if (!GgmlNative.IsAvailable)
        {
            throw new InvalidOperationException("Native ggml is not available: " + GgmlNative.LoadError);
        }

        Console.WriteLine($"// ggml variant loaded: {GgmlNative.Variant}");
    }

    /// <summary>ggml's short name of a type ("q4_0", "f16", "q8_K").</summary>
    public static string GgmlName(QuantType type) => GgmlNative.TypeName((int)type);

    /// <summary>Throws unless both sides produced exactly the same bytes, so a benchmark never compares different work.</summary>
    public static void RequireIdentical(ReadOnlySpan<byte> ggml, ReadOnlySpan<byte> ours, string what)
    {
        if (ggml.Length != ours.Length)
        {
            throw new InvalidOperationException($"{what}: ggml produced {ggml.Length} bytes, ours {ours.Length}.");
        }

        int i = ggml.SequenceEqual(ours) ? -1 : FirstDifference(ggml, ours);
        if (i >= 0)
        {
            throw new InvalidOperationException($"{what}: ours differs from ggml at byte {i} (ggml 0x{ggml[i]:X2}, ours 0x{ours[i]:X2}); the benchmark would compare different work.");
        }

        Console.WriteLine($"// sanity: {what}: {ours.Length} bytes identical to ggml");
    }

    /// <summary>Throws if <paramref name="ours"/> allocates managed memory once warm (the kernels must not allocate).</summary>
    public static void RequireNoAllocation(Action ours, string what)
    {
        for (int i = 0; i < 3; i++)
        {
            ours();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            ours();
        }

        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        if (bytes != 0)
        {
            throw new InvalidOperationException($"{what}: ours allocated {bytes} bytes in 5 calls; the kernels must not allocate.");
        }

        Console.WriteLine($"// sanity: {what}: ours allocates 0 B per call");
    }

    public static int CountDifferences(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = 0;
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            n += a[i] != b[i] ? 1 : 0;
        }

        return n + Math.Abs(a.Length - b.Length);
    }

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }

        return -1;
    }
}
