using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// One super-block format's dot with Q8_K: its scalar reference and its vector paths, which
/// <see cref="KDot.DotOn{TPaths, TBlock}"/> chooses between. <see cref="KDotKernel{TDot, TBlock}"/> makes it the
/// registered <see cref="Kernels.Dot.IDotRowsKernel"/>, so that a format declares only what is its own.
/// </summary>
internal interface IKDotPaths<TBlock>
    where TBlock : unmanaged
{
    /// <summary>The weight format.</summary>
    static abstract QuantType WeightType { get; }

    /// <summary>Bytes of one weight super-block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>The scalar reference (ggml's generic kernel, in its order).</summary>
    static abstract float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n);

    /// <summary>AVX-512BW path over <paramref name="nb"/> super-blocks.</summary>
    static abstract unsafe float Dot512(TBlock* x, BlockQ8_K* y, int nb);

    /// <summary>AVX2 path over <paramref name="nb"/> super-blocks.</summary>
    static abstract unsafe float Dot256(TBlock* x, BlockQ8_K* y, int nb);

    /// <summary>SSSE3/SSE4.1 path over <paramref name="nb"/> super-blocks.</summary>
    static abstract unsafe float Dot128(TBlock* x, BlockQ8_K* y, int nb);

    /// <summary>AdvSimd path (SDOT where the CPU has it) over <paramref name="nb"/> super-blocks.</summary>
    static abstract float DotNeon(ref readonly TBlock x, ref readonly BlockQ8_K y, int nb);

    /// <summary>
    /// Runs the rows on the format's own multi-row loop where it has one for this machine and this call, and then returns
    /// <see langword="true"/>; <see langword="false"/> (the default) runs them one by one (<see cref="KDot.DotRows{TPaths, TBlock}"/>).
    /// </summary>
    static virtual bool TryDotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) => false;
}

/// <summary>
/// A super-block format whose scalar reference is ggml's eight-lane generic kernel (Q3_K–Q6_K): per super-block eight
/// int32 lane sums, scaled by d·d8 into eight float lane sums, the min term (if any) subtracted per super-block.
/// </summary>
internal interface IKLaneReference<TSelf, TBlock> : IKDotPaths<TBlock>
    where TSelf : IKLaneReference<TSelf, TBlock>
    where TBlock : unmanaged
{
    /// <summary>Whether the format has a min term (d_min · Σ m·bsum); none by default.</summary>
    static virtual bool HasMin => false;

    /// <summary>The FP16 super-block scale d and (formats with a min term) d_min.</summary>
    static abstract ushort D(in TBlock x);

    static virtual ushort DMin(in TBlock x) => 0;

    /// <summary>The generic kernel's integer work for one super-block into <paramref name="aux32"/>; returns Σ m·bsum (0 without a min term).</summary>
    static abstract int LaneSums(in TBlock x, in BlockQ8_K y, Span<int> aux32);

    /// <summary>ggml's generic kernel: eight int32 lanes per super-block, eight float lane sums, the min terms apart.</summary>
    static float IKDotPaths<TBlock>.DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        KDot.LaneReference<TSelf, TBlock>(weights, activations, n, TSelf.BlockBytes);
}

/// <summary>
/// A super-block format without a min term whose vector paths give one super-block's integer sums as int32 lanes
/// (Q3_K, Q6_K, IQ4_XS, IQ3_XXS, IQ3_S, the IQ2 formats): its row loops are <see cref="KDot.ScaledDot256{TBlocks, TBlock}"/>
/// and its siblings, which this interface supplies as the format's <see cref="IKDotPaths{TBlock}"/> paths.
/// </summary>
internal interface IKScaledBlocks<TSelf, TBlock> : IKDotPaths<TBlock>
    where TSelf : IKScaledBlocks<TSelf, TBlock>
    where TBlock : unmanaged
{
    /// <summary>The FP16 super-block scale d.</summary>
    static abstract ushort D(in TBlock x);

    static abstract unsafe Vector256<int> Block256(TBlock* x, BlockQ8_K* y);

    static abstract unsafe Vector512<int> Block512(TBlock* x, BlockQ8_K* y);

    static abstract unsafe Vector128<int> Block128(TBlock* x, BlockQ8_K* y);

    static abstract int BlockNeon(ref readonly TBlock x, ref readonly BlockQ8_K y);

    /// <summary>One super-block's integer sum as the scalar reference computes it.</summary>
    static abstract int SuperBlockSum(in TBlock x, in BlockQ8_K y);

    static unsafe float IKDotPaths<TBlock>.Dot512(TBlock* x, BlockQ8_K* y, int nb) => KDot.ScaledDot512<TSelf, TBlock>(x, y, nb);

    static unsafe float IKDotPaths<TBlock>.Dot256(TBlock* x, BlockQ8_K* y, int nb) => KDot.ScaledDot256<TSelf, TBlock>(x, y, nb);

    static unsafe float IKDotPaths<TBlock>.Dot128(TBlock* x, BlockQ8_K* y, int nb) => KDot.ScaledDot128<TSelf, TBlock>(x, y, nb);

    static float IKDotPaths<TBlock>.DotNeon(ref readonly TBlock x, ref readonly BlockQ8_K y, int nb) => KDot.ScaledDotNeon<TSelf, TBlock>(in x, in y, nb);
}

/// <summary>
/// A super-block format with a min term (Q2_K, Q4_K, Q5_K) whose SSSE3/SSE4.1 path gives one super-block's Σ sc·q·q8
/// and Σ m·bsum as int32 lanes: <see cref="KDot.MinDot128{TBlocks, TBlock}"/> is the row loop of them all.
/// </summary>
internal interface IKMinBlocks<TBlock> where TBlock : unmanaged
{
    /// <summary>The FP16 super-block scale d.</summary>
    static abstract ushort D(in TBlock x);

    /// <summary>The FP16 super-block min scale d_min.</summary>
    static abstract ushort DMin(in TBlock x);

    static abstract unsafe Vector128<int> Block128(TBlock* x, BlockQ8_K* y, out Vector128<int> mins);

    /// <summary>One super-block with AdvSimd: (Σ sc·q·q8, Σ m·bsum), for <see cref="KDot.MinDotNeon{TBlocks, TBlock}"/>.</summary>
    static abstract int BlockNeon(ref readonly TBlock x, ref readonly BlockQ8_K y, out int mins);
}

/// <summary>
/// Q4_K and Q5_K: <see cref="IKMinBlocks{TBlock}"/> whose AVX2 and AVX-512 kernels also give Σ m·bsum in four int32
/// lanes, so that one row loop per width (<see cref="KDot.MinDot256{TBlocks, TBlock}"/>,
/// <see cref="KDot.MinDot512{TBlocks, TBlock}"/>) and one per-path test entry (<see cref="KDot.MinSuperBlockSums{TBlocks, TBlock}"/>) serve both.
/// </summary>
internal interface IKMinBlocks4<TBlock> : IKMinBlocks<TBlock> where TBlock : unmanaged
{
    static abstract unsafe Vector256<int> Block256(TBlock* x, BlockQ8_K* y, out Vector128<int> mins);

    static abstract unsafe Vector512<int> Block512(TBlock* x, BlockQ8_K* y, out Vector128<int> mins);
}

/// <summary>
/// Pieces shared by the fused dot products of the 256-value formats with Q8_K activations: argument checks and the
/// integer multiply-accumulate steps of each instruction set.
/// </summary>
/// <remarks>
/// Q8_K activations come from a quantizer whose codes lie in −127..127 (never −128); the x86 paths rely on that where
/// they use the sign trick (<c>pmaddubsw(|w|, sign(a, w))</c>), exactly as ggml does.
/// </remarks>
internal static class KDot
{
    /// <summary>One super-block's (Σ of the reference's eight lane sums, Σ m·bsum): the scalar path's integer work.</summary>
    public static (int Sum, int Mins) ReferenceSums<TLanes, TBlock>(in TBlock x, in BlockQ8_K y)
        where TLanes : IKLaneReference<TLanes, TBlock>
        where TBlock : unmanaged
    {
        Span<int> lanes = stackalloc int[8];
        int mins = TLanes.LaneSums(in x, in y, lanes);
        int sum = 0;
        foreach (int v in lanes)
        {
            sum += v;
        }

        return (sum, mins);
    }

    /// <summary>AVX2 row loop of a format without a min term: Σ over super-blocks of (fp16(d)·d8)·lanes, eight float lanes.</summary>
    public static unsafe float ScaledDot256<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKScaledBlocks<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        Vector256<float> acc = Vector256<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector256<int> s = TBlocks.Block256(x, y);
            acc = Vector256.MultiplyAddEstimate(Vector256.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector256.ConvertToSingle(s), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>The AVX-512 row loop of <see cref="ScaledDot256{TBlocks, TBlock}"/>.</summary>
    public static unsafe float ScaledDot512<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKScaledBlocks<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        Vector512<float> acc = Vector512<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector512<int> s = TBlocks.Block512(x, y);
            acc = Vector512.MultiplyAddEstimate(Vector512.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector512.ConvertToSingle(s), acc);
        }

        return Vector512.Sum(acc);
    }

    /// <summary>The SSSE3/SSE4.1 row loop of <see cref="ScaledDot256{TBlocks, TBlock}"/>, four float lanes.</summary>
    public static unsafe float ScaledDot128<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKScaledBlocks<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        Vector128<float> acc = Vector128<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector128<int> s = TBlocks.Block128(x, y);
            acc = Vector128.MultiplyAddEstimate(Vector128.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector128.ConvertToSingle(s), acc);
        }

        return Vector128.Sum(acc);
    }

    /// <summary>The SSSE3/SSE4.1 row loop of a format with a min term: Σ (fp16(d)·d8)·lanes − Σ (fp16(dmin)·d8)·min lanes, four float lanes each.</summary>
    public static unsafe float MinDot128<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKMinBlocks<TBlock>
        where TBlock : unmanaged
    {
        Vector128<float> acc = Vector128<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector128<int> s = TBlocks.Block128(x, y, out Vector128<int> m);
            acc = Vector128.MultiplyAddEstimate(Vector128.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector128.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(HalfToSingle(ref half, TBlocks.DMin(in *x)) * y->D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector128.Sum(acc) - Vector128.Sum(accm);
    }

    /// <summary>The AVX2 row loop of <see cref="IKMinBlocks4{TBlock}"/>: eight float lanes for the sums, four for the min terms.</summary>
    public static unsafe float MinDot256<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKMinBlocks4<TBlock>
        where TBlock : unmanaged
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector256<int> s = TBlocks.Block256(x, y, out Vector128<int> m);
            acc = Vector256.MultiplyAddEstimate(Vector256.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector256.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(HalfToSingle(ref half, TBlocks.DMin(in *x)) * y->D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector256.Sum(acc) - Vector128.Sum(accm);
    }

    /// <summary>The AVX-512 row loop of <see cref="IKMinBlocks4{TBlock}"/>: sixteen float lanes for the sums, four for the min terms.</summary>
    public static unsafe float MinDot512<TBlocks, TBlock>(TBlock* x, BlockQ8_K* y, int nb)
        where TBlocks : IKMinBlocks4<TBlock>
        where TBlock : unmanaged
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        ref float half = ref HalfTable;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            Vector512<int> s = TBlocks.Block512(x, y, out Vector128<int> m);
            acc = Vector512.MultiplyAddEstimate(Vector512.Create(HalfToSingle(ref half, TBlocks.D(in *x)) * y->D), Vector512.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(HalfToSingle(ref half, TBlocks.DMin(in *x)) * y->D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector512.Sum(acc) - Vector128.Sum(accm);
    }

    /// <summary>The AdvSimd row loop of a format with a min term: one float term per super-block, d·d8·Σ − dmin·d8·Σm.</summary>
    public static float MinDotNeon<TBlocks, TBlock>(ref readonly TBlock x, ref readonly BlockQ8_K y, int nb)
        where TBlocks : IKMinBlocks<TBlock>
        where TBlock : unmanaged
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly TBlock xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            int s = TBlocks.BlockNeon(in xb, in yb, out int m);
            sumf += HalfToSingle(TBlocks.D(in xb)) * yb.D * s - HalfToSingle(TBlocks.DMin(in xb)) * yb.D * m;
        }

        return sumf;
    }

    /// <summary>Super-block <paramref name="i"/>'s (Σ sc·q·q8, Σ m·bsum) of a <see cref="IKMinBlocks4{TBlock}"/> format as computed by <paramref name="path"/>.</summary>
    public static unsafe (int Sum, int Mins) MinSuperBlockSums<TBlocks, TBlock>(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
        where TBlocks : IKMinBlocks4<TBlock>, IKLaneReference<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        ref readonly TBlock x = ref MemoryMarshal.Cast<byte, TBlock>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        fixed (TBlock* px = &x)
        fixed (BlockQ8_K* py = &y)
        {
            Vector128<int> m;
            switch (path)
            {
                case DotPath.Avx512:
                    return (Vector512.Sum(TBlocks.Block512(px, py, out m)), Vector128.Sum(m));
                case DotPath.Avx2:
                    return (Vector256.Sum(TBlocks.Block256(px, py, out m)), Vector128.Sum(m));
                case DotPath.Ssse3:
                    return (Vector128.Sum(TBlocks.Block128(px, py, out m)), Vector128.Sum(m));
                case DotPath.AdvSimd:
                    return (TBlocks.BlockNeon(in x, in y, out int mins), mins);
                default:
                    return ReferenceSums<TBlocks, TBlock>(in x, in y);
            }
        }
    }

    /// <summary>Super-block <paramref name="i"/>'s integer sum of a <see cref="IKScaledBlocks{TSelf, TBlock}"/> format as computed by <paramref name="path"/> (no min term: 0).</summary>
    public static unsafe (int Sum, int Mins) ScaledSuperBlockSums<TBlocks, TBlock>(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
        where TBlocks : IKScaledBlocks<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        ref readonly TBlock x = ref MemoryMarshal.Cast<byte, TBlock>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        fixed (TBlock* px = &x)
        fixed (BlockQ8_K* py = &y)
        {
            return path switch
            {
                DotPath.Avx512 => (Vector512.Sum(TBlocks.Block512(px, py)), 0),
                DotPath.Avx2 => (Vector256.Sum(TBlocks.Block256(px, py)), 0),
                DotPath.Ssse3 => (Vector128.Sum(TBlocks.Block128(px, py)), 0),
                DotPath.AdvSimd => (TBlocks.BlockNeon(in x, in y), 0),
                _ => (TBlocks.SuperBlockSum(in x, in y), 0),
            };
        }
    }

    /// <summary>The AdvSimd row loop of <see cref="ScaledDot256{TBlocks, TBlock}"/>: one float term per super-block.</summary>
    public static float ScaledDotNeon<TBlocks, TBlock>(ref readonly TBlock x, ref readonly BlockQ8_K y, int nb)
        where TBlocks : IKScaledBlocks<TBlocks, TBlock>
        where TBlock : unmanaged
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly TBlock xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            sumf += HalfToSingle(TBlocks.D(in xb)) * yb.D * TBlocks.BlockNeon(in xb, in yb);
        }

        return sumf;
    }

    /// <summary>ggml's generic kernel for the formats of <see cref="IKLaneReference{TSelf, TBlock}"/>, in its order.</summary>
    public static float LaneReference<TLanes, TBlock>(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, int blockBytes)
        where TLanes : IKLaneReference<TLanes, TBlock>
        where TBlock : unmanaged
    {
        int nb = SuperBlocks(n, blockBytes, weights, activations);
        ReadOnlySpan<TBlock> x = MemoryMarshal.Cast<byte, TBlock>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        Span<float> sums = stackalloc float[8];
        sums.Clear();
        Span<int> aux32 = stackalloc int[8];
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            int mins = TLanes.LaneSums(in x[i], in y[i], aux32);
            float d = Kernels.Fp16.ToSingle(TLanes.D(in x[i])) * y[i].D;
            for (int l = 0; l < 8; ++l)
            {
                sums[l] += d * aux32[l];
            }

            if (TLanes.HasMin)
            {
                float dmin = Kernels.Fp16.ToSingle(TLanes.DMin(in x[i])) * y[i].D;
                sumf -= dmin * mins;
            }
        }

        for (int l = 0; l < 8; ++l)
        {
            sumf += sums[l];
        }

        return sumf;
    }

    /// <summary>
    /// The paths every super-block format implements. <see cref="DotPath.Avx2"/> uses AVX-VNNI's <c>vpdpwssd</c> where
    /// the CPU has it, <see cref="DotPath.AdvSimd"/> uses <c>SDOT</c> where the CPU has it (<see cref="Dot4"/>).
    /// </summary>
    public static ReadOnlySpan<DotPath> Paths => [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimd, DotPath.Scalar];

    /// <summary>The path <c>Dot</c> takes on this machine (folded to a constant by the JIT).</summary>
    public static readonly DotPath BestPath = DotPaths.Best(Paths);

    /// <summary>Whether <paramref name="path"/> can run on this machine.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    /// <summary>
    /// The <see cref="Kernels.Dot.IDotKernel.Dot"/> of every super-block format: checks the lengths, then runs
    /// <see cref="BestPath"/>.
    /// </summary>
    public static float Dot<TPaths, TBlock>(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
        where TPaths : IKDotPaths<TBlock>
        where TBlock : unmanaged =>
        DotOn<TPaths, TBlock>(BestPath, weights, activations, n);

    /// <summary><see cref="Dot{TPaths, TBlock}"/> on <paramref name="path"/> (which must be supported).</summary>
    public static unsafe float DotOn<TPaths, TBlock>(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
        where TPaths : IKDotPaths<TBlock>
        where TBlock : unmanaged
    {
        int nb = SuperBlocks(n, TPaths.BlockBytes, weights, activations);
        if (path == DotPath.AdvSimd)
        {
            return TPaths.DotNeon(in MemoryMarshal.AsRef<TBlock>(weights), in MemoryMarshal.AsRef<BlockQ8_K>(activations), nb);
        }

        if (path is not (DotPath.Avx512 or DotPath.Avx2 or DotPath.Ssse3))
        {
            return TPaths.DotReference(weights, activations, n);
        }

        fixed (byte* w = weights)
        fixed (byte* a = activations)
        {
            return path switch
            {
                DotPath.Avx512 => TPaths.Dot512((TBlock*)w, (BlockQ8_K*)a, nb),
                DotPath.Avx2 => TPaths.Dot256((TBlock*)w, (BlockQ8_K*)a, nb),
                _ => TPaths.Dot128((TBlock*)w, (BlockQ8_K*)a, nb),
            };
        }
    }

    /// <summary>
    /// The <see cref="Kernels.Dot.IDotRowsKernel.DotRows"/> of every super-block format: the checks once per call, then
    /// the rows one after another on <see cref="BestPath"/> (each result is <c>Dot</c> of its row, to the bit).
    /// </summary>
    public static unsafe void DotRows<TPaths, TBlock>(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
        where TPaths : IKDotPaths<TBlock>
        where TBlock : unmanaged
    {
        if (results.IsEmpty)
        {
            return;
        }

        int nb = CheckRows(weights, rowBytes, activations, n, results.Length, TPaths.BlockBytes);

        if (BestPath is DotPath.Avx512 or DotPath.Avx2 or DotPath.Ssse3)
        {
            fixed (byte* w = weights)
            fixed (byte* a = activations)
            {
                for (int r = 0; r < results.Length; r++)
                {
                    var x = (TBlock*)(w + (nint)r * rowBytes);
                    results[r] = BestPath switch
                    {
                        DotPath.Avx512 => TPaths.Dot512(x, (BlockQ8_K*)a, nb),
                        DotPath.Avx2 => TPaths.Dot256(x, (BlockQ8_K*)a, nb),
                        _ => TPaths.Dot128(x, (BlockQ8_K*)a, nb),
                    };
                }
            }

            return;
        }

        for (int r = 0; r < results.Length; r++)
        {
            ReadOnlySpan<byte> row = weights.Slice(r * rowBytes, nb * TPaths.BlockBytes);
            results[r] = BestPath == DotPath.AdvSimd
                ? TPaths.DotNeon(in MemoryMarshal.AsRef<TBlock>(row), in MemoryMarshal.AsRef<BlockQ8_K>(activations), nb)
                : TPaths.DotReference(row, activations, n);
        }
    }

    /// <summary>
    /// The AVX-512 rows of a format whose kernel takes the Q8 codes in its own order (an <see cref="IKDotPaths{TBlock}.TryDotRows"/>):
    /// <paramref name="pair"/> lays out every super-block's 256 codes once for the call (and may use 16 more bytes per
    /// super-block after the 256·nb, for other per-block activation terms), then <paramref name="dot"/> runs each row on
    /// that copy. Returns <see langword="false"/> (nothing done) where AVX-512 is not the path or there is only one row.
    /// </summary>
    /// <remarks>
    /// The path test is spelled with JIT-time constants rather than <see cref="BestPath"/>: with the static readonly
    /// field here, tier 1 with dynamic PGO compiled MatVec's 32-row calls of the AVX2 and SSE tiers 2-2.5x slower
    /// (.NET 10.0.12; not so with DOTNET_TieredPGO=0).
    /// </remarks>
    [SkipLocalsInit]
    public static unsafe bool TryPairedRows512<TBlock>(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results, int weightBlockBytes,
                                                       delegate*<BlockQ8_K*, int, sbyte*, void> pair, delegate*<TBlock*, BlockQ8_K*, sbyte*, int, float> dot)
        where TBlock : unmanaged
    {
        if (!(Vector512.IsHardwareAccelerated && Avx512BW.IsSupported) || results.Length < 2)
        {
            return false;
        }

        int nb = CheckRows(weights, rowBytes, activations, n, results.Length, weightBlockBytes);
        const int StackBlocks = 64, PairedBlockBytes = 256 + 16;
        byte[]? rented = null;
        Span<byte> paired = nb <= StackBlocks ? stackalloc byte[StackBlocks * PairedBlockBytes] : (rented = ArrayPool<byte>.Shared.Rent(nb * PairedBlockBytes));
        fixed (byte* w = weights)
        fixed (byte* a = activations)
        fixed (byte* p = paired)
        {
            pair((BlockQ8_K*)a, nb, (sbyte*)p);
            for (int r = 0; r < results.Length; r++)
            {
                results[r] = dot((TBlock*)(w + (nint)r * rowBytes), (BlockQ8_K*)a, (sbyte*)p, nb);
            }
        }

        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return true;
    }

    /// <summary>Checks <paramref name="n"/>, the activations and <paramref name="rows"/> (≥ 1) weight rows of <paramref name="rowBytes"/>; returns the super-blocks per row.</summary>
    public static int CheckRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, int rows, int weightBlockBytes)
    {
        int nb = SuperBlocks(n, weightBlockBytes, weights, activations);
        if (rowBytes < nb * weightBlockBytes || (long)rowBytes * (rows - 1) + nb * weightBlockBytes > weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"{rows} rows of {rowBytes} bytes do not fit {weights.Length} weight bytes.");
        }

        return nb;
    }

    /// <summary>Checks <paramref name="n"/> and the two lengths; returns the number of 256-value super-blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SuperBlocks(int n, int weightBlockBytes, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations)
    {
        if (n < 0 || n % 256 != 0)
        {
            ThrowN(n);
        }

        int nb = n / 256;
        if (weights.Length < (long)nb * weightBlockBytes)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"{n} values need {(long)nb * weightBlockBytes} weight bytes; got {weights.Length}.");
        }

        if (activations.Length < (long)nb * BlockQ8_K.Size)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{n} values need {(long)nb * BlockQ8_K.Size} Q8_K bytes; got {activations.Length}.");
        }

        return nb;
    }

    private static void ThrowN(int n) =>
        ThrowHelper.ThrowArgument(nameof(n), $"{n} is not a non-negative multiple of the super-block size 256.");

    /// <summary>IEEE half to float by the shared table (<see cref="Kernels.Dot.HalfTable"/>): one load per scale in the hot loops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ushort h) => Kernels.Dot.HalfTable.ToSingle(h);

    /// <summary>The first entry of the half table, for loops that keep it in a register (see <see cref="HalfToSingle(ref float, ushort)"/>).</summary>
    public static ref float HalfTable => ref Kernels.Dot.HalfTable.First;

    /// <summary><see cref="HalfToSingle(ushort)"/> from <paramref name="table"/> = <see cref="HalfTable"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ref float table, ushort h) => Unsafe.Add(ref table, h);

    /// <summary>Σ over pairs of u8·s8 (int16, no saturation for the operand ranges used here), times an int16 scale per pair, into int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MulAdd(Vector256<byte> unsignedCodes, Vector256<sbyte> activations, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(unsignedCodes, activations), scale);

    /// <summary>
    /// acc + <see cref="MulAdd(Vector256{byte}, Vector256{sbyte}, Vector256{short})"/>: with AVX-VNNI the scale multiply
    /// and the accumulation are one VPDPWSSD (the same wrapping int32 sum).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MulAdd(Vector256<int> acc, Vector256<byte> unsignedCodes, Vector256<sbyte> activations, Vector256<short> scale) =>
        AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(acc, Avx2.MultiplyAddAdjacent(unsignedCodes, activations), scale)
            : acc + MulAdd(unsignedCodes, activations, scale);

    /// <summary>Int16 scales 8h..8h+7 of sixteen (<paramref name="scales16"/>) in both 128-bit lanes, for <see cref="ScalePair256"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> ScaleHalf256(Vector256<short> scales16, [ConstantExpected(Min = 0, Max = 1)] int h) =>
        (h == 0 ? Avx2.Permute2x128(scales16, scales16, 0x00) : Avx2.Permute2x128(scales16, scales16, 0x11)).AsByte();

    /// <summary>
    /// Scale 2s of a <see cref="ScaleHalf256"/> in the low 128 bits and 2s+1 in the high 128 bits (eight int16 lanes
    /// each, one sub-block of 16 values): one byte shuffle with a constant control.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> ScalePair256(Vector256<byte> half, [ConstantExpected(Min = 0, Max = 3)] int s) =>
        Avx2.Shuffle(half, Vector256.Create(Vector128.Create((ushort)(0x0100 + 0x0202 * 2 * s)), Vector128.Create((ushort)(0x0100 + 0x0202 * (2 * s + 1)))).AsByte()).AsInt16();

    /// <inheritdoc cref="MulAdd(Vector256{byte}, Vector256{sbyte}, Vector256{short})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> MulAdd(Vector128<byte> unsignedCodes, Vector128<sbyte> activations, Vector128<short> scale) =>
        Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(unsignedCodes, activations), scale);

    /// <summary>Int16 lane <paramref name="k"/> (0..7) of <paramref name="scales8"/> in all eight lanes: one byte shuffle (a constant control where k is one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> Broadcast(Vector128<short> scales8, int k) =>
        Ssse3.Shuffle(scales8.AsByte(), Vector128.Create((ushort)(0x0100 + 0x0202 * k)).AsByte()).AsInt16();

    /// <summary>Bytes 8h..8h+7 of <paramref name="bytes"/> sign-extended to int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> Widen(Vector128<sbyte> bytes, [ConstantExpected(Min = 0, Max = 1)] int h) =>
        Sse41.ConvertToVector128Int16(h == 0 ? bytes : Sse2.ShiftRightLogical128BitLane(bytes, 8));

    /// <summary>Σ_k bsum_k·scale_k over the sixteen Q8_K bsums in four int32 lanes (scales 0..7 in <paramref name="low"/>, 8..15 in <paramref name="high"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> BsumProducts(BlockQ8_K* y, Vector128<short> low, Vector128<short> high)
    {
        short* bs = (short*)&y->Bsums;
        return Sse2.MultiplyAddAdjacent(Sse2.LoadVector128(bs), low) + Sse2.MultiplyAddAdjacent(Sse2.LoadVector128(bs + 8), high);
    }

    /// <inheritdoc cref="MulAdd(Vector256{byte}, Vector256{sbyte}, Vector256{short})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MulAdd(Vector512<byte> unsignedCodes, Vector512<sbyte> activations, Vector512<short> scale) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(unsignedCodes, activations), scale);

    /// <summary>Two 32-byte halves of a Q8_K code array as one 64-byte vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Load2x32(ref readonly sbyte q8, int first, int second) =>
        Vector512.Create(Vector256.LoadUnsafe(in q8, (nuint)first), Vector256.LoadUnsafe(in q8, (nuint)second));

    /// <summary>
    /// acc + Σ of each four adjacent int8 products: SDOT with the dot-product extension, otherwise widening multiplies
    /// and pairwise adds (the same total per lane, exactly: an int8·int8 product fits int16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Dot4(Vector128<int> acc, Vector128<sbyte> a, Vector128<sbyte> b)
    {
        if (Dp.IsSupported)
        {
            return Dp.DotProduct(acc, a, b);
        }

        Vector128<short> lo = AdvSimd.MultiplyWideningLower(a.GetLower(), b.GetLower());
        Vector128<short> hi = AdvSimd.MultiplyWideningUpper(a, b);
        return AdvSimd.AddPairwiseWideningAndAdd(AdvSimd.AddPairwiseWideningAndAdd(acc, lo), hi);
    }

    /// <summary>Σ of all lanes of <see cref="Dot4"/>(0, a, b) over two 16-byte halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot32(Vector128<sbyte> a0, Vector128<sbyte> b0, Vector128<sbyte> a1, Vector128<sbyte> b1) =>
        AdvSimd.Arm64.AddAcross(Dot4(Dot4(Vector128<int>.Zero, a0, b0), a1, b1)).ToScalar();
}
