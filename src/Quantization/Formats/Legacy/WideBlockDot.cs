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
        DotPath.Avx512 => Row256<Avx512Path, Vector512<short>>(ref w, ref a, blocks),
        DotPath.AvxVnni => Row256<AvxVnniPath, OffsetActivations>(ref w, ref a, blocks),
        DotPath.Avx2 => Row256<Avx2Path, OffsetActivations>(ref w, ref a, blocks),
        DotPath.Ssse3 => Row128<Ssse3Path, Halves>(ref w, ref a, blocks),
        DotPath.AdvSimdDp => Row128<AdvSimdDpPath, Halves>(ref w, ref a, blocks),
        DotPath.AdvSimd => Row128<AdvSimdPath, Halves>(ref w, ref a, blocks),
        _ => RowScalar(ref w, ref a, blocks),
    };

    /// <summary>Four rows, each activation block loaded once for all four; every row adds its terms as <see cref="Row"/> does, so each result equals its one-row dot to the bit.</summary>
    private static void Rows4(DotPath path, ref byte w, int rowBytes, ref byte a, int blocks, Span<float> results)
    {
        switch (path)
        {
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

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        if (n < 0 || n % Values != 0)
        {
            ThrowHelper.ThrowArgument(nameof(n), $"{n} is not a non-negative multiple of {Values}.");
        }

        int blocks = n / Values;
        if (weights.Length < (long)blocks * TWeights.BlockBytes)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"Weights have {weights.Length} bytes; {n} values take {(long)blocks * TWeights.BlockBytes}.");
        }

        if (activations.Length < (long)blocks * TWeights.SubBlocks * BlockQ8_0.Size)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"Activations have {activations.Length} bytes; {n} values take {(long)blocks * TWeights.SubBlocks * BlockQ8_0.Size}.");
        }

        return blocks;
    }
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

    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        WideBlockDot<TWeights>.DotOn(path, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        WideBlockDot<TWeights>.DotRows(weights, rowBytes, activations, n, results);
}
