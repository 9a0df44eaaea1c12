using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// The weight side of a legacy format whose block spans several Q8_0 blocks under one FP16 scale (Q1_0: four, Q2_0:
/// two). Each 32-value slice of its codes is an <see cref="IBlock32Weights"/> "block" without a scale of its own: the
/// decode and reference-sum members receive a reference to the slice's first code byte, so every
/// <see cref="Block32Dot{TWeights}"/> path struct (<see cref="Avx512Path"/>, <see cref="Avx2Path"/>, …) computes its
/// exact integer sum unchanged.
/// </summary>
internal interface IWideBlockWeights : IBlock32Weights
{
    /// <summary>Q8_0 blocks per weight block.</summary>
    static abstract int SubBlocks { get; }

    /// <summary>Code bytes per 32 values; slice k starts at byte 2 + k·SubBlockBytes of the block (after the FP16 d).</summary>
    static abstract int SubBlockBytes { get; }

    /// <summary>Whether <see cref="SliceSums256"/> serves the AVX2 and AVX-512 row loops (four slices per block).</summary>
    static virtual bool HasSliceSums256 => false;

    /// <summary>
    /// The exact Σ q·y of the four slices of one block in one vector: int32 lane k of each 128-bit half is slice k's sum
    /// over that half's 16 values. <paramref name="y0"/>…<paramref name="y3"/> are the slices' activation codes,
    /// <paramref name="offsets"/> their <see cref="SliceOffsets256"/> (computed once per activation block for all rows).
    /// </summary>
    static virtual Vector256<int> SliceSums256(ref readonly byte codes, Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3, Vector256<int> offsets) => default;

    /// <summary>A per-lane term of the activations that <see cref="SliceSums256"/> takes.</summary>
    static virtual Vector256<int> SliceOffsets256(Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3) => default;
}

/// <summary>
/// The dot products of a wide legacy block (<see cref="IWideBlockWeights"/>) with Q8_0 activations: the scalar reference
/// in the order of ggml's generic kernel (<c>sumi += d_y·Σ</c> per Q8_0 block, then <c>sumf += d_x·sumi</c>) and one
/// vector row loop per <see cref="DotPath"/>, built on the Block32 path structs. Every path computes each 32-value
/// slice's integer Σ q·y exactly; the float result differs from the reference only in rounding order (each slice's
/// lanes are scaled by d_x·d_y and added lane-wise).
/// </summary>
internal static class WideBlockDot<TWeights> where TWeights : IWideBlockWeights
{
    private static int Values => 32 * TWeights.SubBlocks;

    /// <summary>The paths implemented, in the library's preference order.</summary>
    public static ReadOnlySpan<DotPath> Paths =>
        [DotPath.AvxVnni, DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static readonly DotPath BestPath = DotPaths.Best(Paths);

    /// <summary>Whether <paramref name="path"/> runs on this process (every path is implemented).</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    /// <summary>ggml's <c>ggml_vec_dot_&lt;w&gt;_q8_0_generic</c>.</summary>
    public static float Reference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        float sumf = 0.0f;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            float d0 = Scale(ref wb);
            float sumi = 0.0f;
            for (int k = 0; k < TWeights.SubBlocks; k++)
            {
                ref byte ab = ref Unsafe.Add(ref a, (i * TWeights.SubBlocks + k) * BlockQ8_0.Size);
                int sumiBlock = TWeights.IntegerSumReference(in Codes(ref wb, k), in ActivationCodes(ref ab));
                sumi += TWeights.ScaleReference(sumiBlock, d0, Scale(ref ab));
            }

            sumf += d0 * sumi;
        }

        return sumf;
    }

    /// <summary>The dot product on the fastest path.</summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotOn(BestPath, weights, activations, n);

    /// <summary>The dot product on <paramref name="path"/> (which must be supported).</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        return Row(path, ref MemoryMarshal.GetReference(weights), ref MemoryMarshal.GetReference(activations), blocks);
    }

    /// <summary>One dot product per weight row; each equals <see cref="Dot"/> of that row to the bit.</summary>
    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary><see cref="DotRows"/> on <paramref name="path"/>; each result equals <see cref="DotOn"/> of its row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (results.Length == 0)
        {
            return;
        }

        if (rowBytes < blocks * TWeights.BlockBytes || (long)rowBytes * (results.Length - 1) + blocks * TWeights.BlockBytes > weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }

        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        int r = 0;
        for (; r + 4 <= results.Length; r += 4)
        {
            Rows4(path, ref Unsafe.Add(ref w, (nint)r * rowBytes), rowBytes, ref a, blocks, results.Slice(r, 4));
        }

        for (; r < results.Length; r++)
        {
            results[r] = Row(path, ref Unsafe.Add(ref w, (nint)r * rowBytes), ref a, blocks);
        }
    }

    /// <summary>The exact integer Σ q·y of every 32-value slice (one per Q8_0 block) on <paramref name="path"/>: the lanes of the vector paths, added up.</summary>
    public static void IntegerSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, Span<int> sums)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        if (TWeights.HasSliceSums256 && path is DotPath.Avx512 or DotPath.Avx2)
        {
            for (int i = 0; i < blocks; i++)
            {
                Vector256<int> lanes = SliceSums(ref Unsafe.Add(ref w, i * TWeights.BlockBytes), ref Unsafe.Add(ref a, i * TWeights.SubBlocks * BlockQ8_0.Size));
                for (int k = 0; k < 4; k++)
                {
                    sums[4 * i + k] = lanes.GetElement(k) + lanes.GetElement(k + 4);
                }
            }

            return;
        }

        for (int s = 0; s < blocks * TWeights.SubBlocks; s++)
        {
            ref byte codes = ref Codes(ref Unsafe.Add(ref w, s / TWeights.SubBlocks * TWeights.BlockBytes), s % TWeights.SubBlocks);
            ref sbyte y = ref ActivationCodes(ref Unsafe.Add(ref a, s * BlockQ8_0.Size));
            sums[s] = path switch
            {
                DotPath.Scalar => TWeights.IntegerSumReference(in codes, in y),
                DotPath.Avx512 => Vector256.Sum(Avx512Path.Lanes<TWeights>(in codes, Avx512Path.LoadY<TWeights>(in y))),
                DotPath.AvxVnni => Vector256.Sum(AvxVnniPath.Lanes<TWeights>(in codes, AvxVnniPath.LoadY<TWeights>(in y))),
                DotPath.Avx2 => Vector256.Sum(Avx2Path.Lanes<TWeights>(in codes, Avx2Path.LoadY<TWeights>(in y))),
                DotPath.Ssse3 => Vector128.Sum(Ssse3Path.Lanes<TWeights>(in codes, Ssse3Path.LoadY<TWeights>(in y))),
                DotPath.AdvSimdDp => Vector128.Sum(AdvSimdDpPath.Lanes<TWeights>(in codes, AdvSimdDpPath.LoadY<TWeights>(in y))),
                DotPath.AdvSimd => Vector128.Sum(AdvSimdPath.Lanes<TWeights>(in codes, AdvSimdPath.LoadY<TWeights>(in y))),
                _ => throw new ArgumentOutOfRangeException(nameof(path)),
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row(DotPath path, ref byte w, ref byte a, int blocks) => path switch
    {
        DotPath.Avx512 or DotPath.Avx2 when TWeights.HasSliceSums256 => SliceRow256(ref w, ref a, blocks),
        DotPath.Avx512 => Row256<Avx512Path, Vector512<short>>(ref w, ref a, blocks),
        DotPath.AvxVnni => Row256<AvxVnniPath, OffsetActivations>(ref w, ref a, blocks),
        DotPath.Avx2 => Row256<Avx2Path, OffsetActivations>(ref w, ref a, blocks),
        DotPath.Ssse3 => Row128<Ssse3Path, Halves>(ref w, ref a, blocks),
        DotPath.AdvSimdDp => Row128<AdvSimdDpPath, Halves>(ref w, ref a, blocks),
        DotPath.AdvSimd => Row128<AdvSimdPath, Halves>(ref w, ref a, blocks),
        _ => RowScalar(ref w, ref a, blocks),
    };

    /// <summary>Four rows, each activation block loaded once for all four; every row adds its terms as <see cref="Row"/> does, so each result equals its one-row dot to the bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static void Rows4(DotPath path, ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results)
    {
        switch (path)
        {
            case DotPath.Avx512 or DotPath.Avx2 when TWeights.HasSliceSums256: SliceRows4(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.Avx512: Rows4x256<Avx512Path, Vector512<short>>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.AvxVnni: Rows4x256<AvxVnniPath, OffsetActivations>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.Avx2: Rows4x256<Avx2Path, OffsetActivations>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.Ssse3: Rows4x128<Ssse3Path, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.AdvSimdDp: Rows4x128<AdvSimdDpPath, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            case DotPath.AdvSimd: Rows4x128<AdvSimdPath, Halves>(ref w, rowBytes, ref a, blocks, results); break;
            default:
                for (int r = 0; r < 4; r++)
                {
                    results[r] = RowScalar(ref Unsafe.Add(ref w, (nint)r * rowBytes), ref a, blocks);
                }

                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static void Rows4x256<TPath, TY>(ref byte w, nint rowBytes, ref byte a, int blocks, Span<float> results)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        ref byte ab = ref a;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb0 = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref byte wb1 = ref Unsafe.Add(ref wb0, rowBytes);
            ref byte wb2 = ref Unsafe.Add(ref wb1, rowBytes);
            ref byte wb3 = ref Unsafe.Add(ref wb2, rowBytes);
            float dx0 = Scale(ref wb0), dx1 = Scale(ref wb1), dx2 = Scale(ref wb2), dx3 = Scale(ref wb3);
            for (int k = 0; k < TWeights.SubBlocks; k++)
            {
                TY y = TPath.LoadY<TWeights>(in ActivationCodes(ref ab));
                float dy = Scale(ref ab);
                acc0 += Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb0, k), y)) * Vector256.Create(dx0 * dy);
                acc1 += Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb1, k), y)) * Vector256.Create(dx1 * dy);
                acc2 += Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb2, k), y)) * Vector256.Create(dx2 * dy);
                acc3 += Vector256.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb3, k), y)) * Vector256.Create(dx3 * dy);
                ab = ref Unsafe.Add(ref ab, BlockQ8_0.Size);
            }
        }

        results[0] = Vector256.Sum(acc0);
        results[1] = Vector256.Sum(acc1);
        results[2] = Vector256.Sum(acc2);
        results[3] = Vector256.Sum(acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static void Rows4x128<TPath, TY>(ref byte w, nint rowBytes, ref byte a, int blocks, Span<float> results)
        where TPath : IPath128<TY> where TY : struct
    {
        Vector128<float> acc0 = Vector128<float>.Zero, acc1 = Vector128<float>.Zero, acc2 = Vector128<float>.Zero, acc3 = Vector128<float>.Zero;
        ref byte ab = ref a;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb0 = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref byte wb1 = ref Unsafe.Add(ref wb0, rowBytes);
            ref byte wb2 = ref Unsafe.Add(ref wb1, rowBytes);
            ref byte wb3 = ref Unsafe.Add(ref wb2, rowBytes);
            float dx0 = Scale(ref wb0), dx1 = Scale(ref wb1), dx2 = Scale(ref wb2), dx3 = Scale(ref wb3);
            for (int k = 0; k < TWeights.SubBlocks; k++)
            {
                TY y = TPath.LoadY<TWeights>(in ActivationCodes(ref ab));
                float dy = Scale(ref ab);
                acc0 += Vector128.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb0, k), y)) * Vector128.Create(dx0 * dy);
                acc1 += Vector128.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb1, k), y)) * Vector128.Create(dx1 * dy);
                acc2 += Vector128.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb2, k), y)) * Vector128.Create(dx2 * dy);
                acc3 += Vector128.ConvertToSingle(TPath.Lanes<TWeights>(in Codes(ref wb3, k), y)) * Vector128.Create(dx3 * dy);
                ab = ref Unsafe.Add(ref ab, BlockQ8_0.Size);
            }
        }

        results[0] = Vector128.Sum(acc0);
        results[1] = Vector128.Sum(acc1);
        results[2] = Vector128.Sum(acc2);
        results[3] = Vector128.Sum(acc3);
    }

    /// <summary>The four slices' codes of the activation blocks at <paramref name="ab"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadSlices(ref byte ab, out Vector256<sbyte> y0, out Vector256<sbyte> y1, out Vector256<sbyte> y2, out Vector256<sbyte> y3)
    {
        y0 = Vector256.LoadUnsafe(ref ActivationCodes(ref ab));
        y1 = Vector256.LoadUnsafe(ref ActivationCodes(ref Unsafe.Add(ref ab, BlockQ8_0.Size)));
        y2 = Vector256.LoadUnsafe(ref ActivationCodes(ref Unsafe.Add(ref ab, 2 * BlockQ8_0.Size)));
        y3 = Vector256.LoadUnsafe(ref ActivationCodes(ref Unsafe.Add(ref ab, 3 * BlockQ8_0.Size)));
    }

    /// <summary>d_y of the four activation blocks at <paramref name="ab"/>, in the lanes of <see cref="IWideBlockWeights.SliceSums256"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> SliceScales(ref byte ab)
    {
        Vector128<float> dy = Vector128.Create(Scale(ref ab), Scale(ref Unsafe.Add(ref ab, BlockQ8_0.Size)),
                                               Scale(ref Unsafe.Add(ref ab, 2 * BlockQ8_0.Size)), Scale(ref Unsafe.Add(ref ab, 3 * BlockQ8_0.Size)));
        return Vector256.Create(dy, dy);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SliceSums(ref byte wb, ref byte ab)
    {
        LoadSlices(ref ab, out Vector256<sbyte> y0, out Vector256<sbyte> y1, out Vector256<sbyte> y2, out Vector256<sbyte> y3);
        return TWeights.SliceSums256(in Codes(ref wb, 0), y0, y1, y2, y3, TWeights.SliceOffsets256(y0, y1, y2, y3));
    }

    /// <summary>
    /// One row of a format with <see cref="IWideBlockWeights.SliceSums256"/>: per block one conversion and one
    /// multiply-add of its four slice sums by d_x·d_y (instead of one per slice).
    /// </summary>
    private static float SliceRow256(ref byte w, ref byte a, int blocks)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref byte ab = ref Unsafe.Add(ref a, i * TWeights.SubBlocks * BlockQ8_0.Size);
            acc = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(SliceSums(ref wb, ref ab)), Vector256.Create(Scale(ref wb)) * SliceScales(ref ab), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>Four rows of <see cref="SliceRow256"/>, each activation block's codes and scales loaded once for all four (each result equals its one-row dot to the bit).</summary>
    private static void SliceRows4(ref byte w, nint rowBytes, ref byte a, int blocks, Span<float> results)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb0 = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            ref byte wb1 = ref Unsafe.Add(ref wb0, rowBytes);
            ref byte wb2 = ref Unsafe.Add(ref wb1, rowBytes);
            ref byte wb3 = ref Unsafe.Add(ref wb2, rowBytes);
            ref byte ab = ref Unsafe.Add(ref a, i * TWeights.SubBlocks * BlockQ8_0.Size);
            LoadSlices(ref ab, out Vector256<sbyte> y0, out Vector256<sbyte> y1, out Vector256<sbyte> y2, out Vector256<sbyte> y3);
            Vector256<float> dy = SliceScales(ref ab);
            Vector256<int> offsets = TWeights.SliceOffsets256(y0, y1, y2, y3);
            acc0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TWeights.SliceSums256(in Codes(ref wb0, 0), y0, y1, y2, y3, offsets)), Vector256.Create(Scale(ref wb0)) * dy, acc0);
            acc1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TWeights.SliceSums256(in Codes(ref wb1, 0), y0, y1, y2, y3, offsets)), Vector256.Create(Scale(ref wb1)) * dy, acc1);
            acc2 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TWeights.SliceSums256(in Codes(ref wb2, 0), y0, y1, y2, y3, offsets)), Vector256.Create(Scale(ref wb2)) * dy, acc2);
            acc3 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(TWeights.SliceSums256(in Codes(ref wb3, 0), y0, y1, y2, y3, offsets)), Vector256.Create(Scale(ref wb3)) * dy, acc3);
        }

        results[0] = Vector256.Sum(acc0);
        results[1] = Vector256.Sum(acc1);
        results[2] = Vector256.Sum(acc2);
        results[3] = Vector256.Sum(acc3);
    }

    private static float RowScalar(ref byte w, ref byte a, int blocks) =>
        Reference(MemoryMarshal.CreateReadOnlySpan(ref w, blocks * TWeights.BlockBytes),
                  MemoryMarshal.CreateReadOnlySpan(ref a, blocks * TWeights.SubBlocks * BlockQ8_0.Size), blocks * Values);

    /// <summary>One row on a 256-bit path: each slice's eight int32 lanes, converted and scaled by d_x·d_y, added lane-wise.</summary>
    private static float Row256<TPath, TY>(ref byte w, ref byte a, int blocks)
        where TPath : IPath256<TY> where TY : unmanaged
    {
        Vector256<float> acc = Vector256<float>.Zero;
        ref byte ab = ref a;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            float dx = Scale(ref wb);
            for (int k = 0; k < TWeights.SubBlocks; k++)
            {
                Vector256<int> lanes = TPath.Lanes<TWeights>(in Codes(ref wb, k), TPath.LoadY<TWeights>(in ActivationCodes(ref ab)));
                acc += Vector256.ConvertToSingle(lanes) * Vector256.Create(dx * Scale(ref ab));
                ab = ref Unsafe.Add(ref ab, BlockQ8_0.Size);
            }
        }

        return Vector256.Sum(acc);
    }

    /// <summary>One row on a 128-bit path, as <see cref="Row256"/> with four lanes.</summary>
    private static float Row128<TPath, TY>(ref byte w, ref byte a, int blocks)
        where TPath : IPath128<TY> where TY : struct
    {
        Vector128<float> acc = Vector128<float>.Zero;
        ref byte ab = ref a;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * TWeights.BlockBytes);
            float dx = Scale(ref wb);
            for (int k = 0; k < TWeights.SubBlocks; k++)
            {
                Vector128<int> lanes = TPath.Lanes<TWeights>(in Codes(ref wb, k), TPath.LoadY<TWeights>(in ActivationCodes(ref ab)));
                acc += Vector128.ConvertToSingle(lanes) * Vector128.Create(dx * Scale(ref ab));
                ab = ref Unsafe.Add(ref ab, BlockQ8_0.Size);
            }
        }

        return Vector128.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte Codes(ref byte block, int slice) => ref Unsafe.Add(ref block, 2 + slice * TWeights.SubBlockBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref sbyte ActivationCodes(ref byte block) => ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref block, 2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(ref byte block) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref block));

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotLengths.Blocks(weights, activations, n, Values, TWeights.BlockBytes, TWeights.SubBlocks * BlockQ8_0.Size);
}

/// <summary>The registered dot kernel of a wide legacy format: <see cref="WideBlockDot{TWeights}"/> with Q8_0 activations (ggml's <c>vec_dot_type</c>).</summary>
internal sealed class WideBlockDotKernel<TWeights> : IDotRowsKernel where TWeights : IWideBlockWeights
{
    public static QuantType WeightType => TWeights.WeightType;

    public static QuantType ActivationType => QuantType.Q8_0;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        WideBlockDot<TWeights>.Dot(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        WideBlockDot<TWeights>.Reference(weights, activations, n);

    public static ReadOnlySpan<DotPath> Paths => WideBlockDot<TWeights>.Paths;

    public static DotPath BestPath => WideBlockDot<TWeights>.BestPath;

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        WideBlockDot<TWeights>.DotOn(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        WideBlockDot<TWeights>.DotRows(weights, rowBytes, activations, n, results);
}
