using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Pieces shared by the ternary × Q8_K dot kernels (<see cref="TQ2_0Dot"/>, <see cref="TQ1_0Dot"/>): argument checks,
/// the Q8_K block offsets, and the integer reductions that turn Σ q·q8 (q unsigned 0..3) into Σ (q − 1)·q8 with the
/// block's bsums.
/// </summary>
internal static class TernaryDot
{
    /// <summary>Offset of Q8_K's int8 values.</summary>
    public const int Q8Values = 4;

    /// <summary>Offset of Q8_K's 16 int16 sums of 16 values each.</summary>
    public const int Q8Bsums = 4 + 256;

    /// <summary>Checks n (a non-negative multiple of 256) and both spans against it.</summary>
    public static int BlockCount(int n, int weightBlockSize, int weightsLength, int activationsLength)
    {
        if (n < 0 || n % 256 != 0)
        {
            ThrowHelper.ThrowArgument(nameof(n), "The length must be a non-negative multiple of 256.");
        }

        int blocks = n / 256;
        if (weightsLength < (long)blocks * weightBlockSize)
        {
            ThrowHelper.ThrowArgument("weights", "The weight row is shorter than the length requires.");
        }

        if (activationsLength < (long)blocks * BlockQ8_K.Size)
        {
            ThrowHelper.ThrowArgument("activations", "The activation row is shorter than the length requires.");
        }

        return blocks;
    }

    /// <summary>The per-block float factor in ggml's order: <c>y.d · fp16(x.d)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(ref byte q8Block, ushort weightScale) =>
        Unsafe.ReadUnaligned<float>(ref q8Block) * HalfTable.ToSingle(weightScale);

    /// <summary>
    /// The <see cref="IDotKernel.Dot"/> of a ternary format: on AVX-512 and AVX2 four blocks per step (one shared
    /// horizontal reduction, then the four terms added in block order), the rest one by one; every block adds
    /// <c>(float)sumi · (y.d · fp16(x.d))</c> in block order, as the reference. <typeparamref name="TDot"/> is a struct so
    /// that its decoder is compiled into this loop.
    /// </summary>
    /// <remarks>
    /// Not inlined: inlined into <c>DotEntry</c>'s row-by-row loop, this loop's decoder calls ran past the JIT's inline
    /// budget and stayed calls (TQ1_0 MatVec 0.8× as fast).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Dot<TDot, TBlock>(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
        where TDot : struct, ITernaryDot<TBlock>
        where TBlock : unmanaged
    {
        int blocks = BlockCount(n, TDot.BlockBytes, weights.Length, activations.Length);
        ref byte x = ref MemoryMarshal.GetReference(weights);
        ref byte y = ref MemoryMarshal.GetReference(activations);
        float sumf = 0f;
        int i = 0;
        if (TDot.BestPath is DotPath.Avx512 or DotPath.Avx2)
        {
            for (; i + 4 <= blocks; i += 4)
            {
                ref byte x0 = ref Unsafe.Add(ref x, i * TDot.BlockBytes);
                ref byte y0 = ref Unsafe.Add(ref y, i * BlockQ8_K.Size);
                ref byte x1 = ref Unsafe.Add(ref x0, TDot.BlockBytes);
                ref byte y1 = ref Unsafe.Add(ref y0, BlockQ8_K.Size);
                ref byte x2 = ref Unsafe.Add(ref x1, TDot.BlockBytes);
                ref byte y2 = ref Unsafe.Add(ref y1, BlockQ8_K.Size);
                ref byte x3 = ref Unsafe.Add(ref x2, TDot.BlockBytes);
                ref byte y3 = ref Unsafe.Add(ref y2, BlockQ8_K.Size);
                Vector128<int> sumi = Totals4(
                    PartialX86<TDot, TBlock>(ref x0, ref y0), PartialX86<TDot, TBlock>(ref x1, ref y1), PartialX86<TDot, TBlock>(ref x2, ref y2), PartialX86<TDot, TBlock>(ref x3, ref y3));
                Vector128<float> scales = Vector128.Create(
                    Scale(ref y0, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref x0, TDot.ScaleOffset))),
                    Scale(ref y1, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref x1, TDot.ScaleOffset))),
                    Scale(ref y2, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref x2, TDot.ScaleOffset))),
                    Scale(ref y3, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref x3, TDot.ScaleOffset))));
                sumf = Accumulate4(sumf, sumi, scales);
            }
        }

        return AddBlocks<TDot, TBlock>(TDot.BestPath, ref x, ref y, i, blocks, sumf);
    }

    /// <summary>The x86 int32 partials of one block on the best path (AVX-512 or AVX2), for <see cref="Totals4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PartialX86<TDot, TBlock>(ref byte x, ref byte y)
        where TDot : struct, ITernaryDot<TBlock>
        where TBlock : unmanaged =>
        TDot.BestPath == DotPath.Avx512 ? TDot.PartialAvx512(ref x, ref y) : TDot.PartialAvx2(ref x, ref y);

    /// <summary>Σ (q − 1)·q8 of one block on <paramref name="path"/> (which must be supported).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockSumOn<TDot, TBlock>(DotPath path, ref byte x, ref byte y)
        where TDot : struct, ITernaryDot<TBlock>
        where TBlock : unmanaged => path switch
    {
        DotPath.Avx512 => Vector256.Sum(TDot.PartialAvx512(ref x, ref y)),
        DotPath.Avx2 => Vector256.Sum(TDot.PartialAvx2(ref x, ref y)),
        DotPath.Ssse3 => TDot.BlockSumVector128(ref x, ref y),
        DotPath.AdvSimdDp => TDot.BlockSumDp(ref x, ref y),
        DotPath.AdvSimd => TDot.BlockSumAdvSimd(ref x, ref y),
        _ => TDot.BlockSumReference(in Unsafe.As<byte, TBlock>(ref x), in Unsafe.As<byte, BlockQ8_K>(ref y)),
    };

    /// <summary>
    /// The dot product with every block's integer sum from <paramref name="path"/>, blocks added one by one in order (the
    /// reference's float order), so any path's result equals the reference's exactly. For tests and benchmarks.
    /// </summary>
    public static float DotOn<TDot, TBlock>(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
        where TDot : struct, ITernaryDot<TBlock>
        where TBlock : unmanaged =>
        AddBlocks<TDot, TBlock>(path, ref MemoryMarshal.GetReference(weights), ref MemoryMarshal.GetReference(activations),
                                0, BlockCount(n, TDot.BlockBytes, weights.Length, activations.Length), 0f);

    /// <summary>Adds blocks <paramref name="from"/>..<paramref name="blocks"/> to <paramref name="sumf"/> one by one in order, each block's integer sum from <paramref name="path"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float AddBlocks<TDot, TBlock>(DotPath path, ref byte x, ref byte y, int from, int blocks, float sumf)
        where TDot : struct, ITernaryDot<TBlock>
        where TBlock : unmanaged
    {
        for (int i = from; i < blocks; i++)
        {
            ref byte xb = ref Unsafe.Add(ref x, i * TDot.BlockBytes);
            ref byte yb = ref Unsafe.Add(ref y, i * BlockQ8_K.Size);
            sumf += (float)BlockSumOn<TDot, TBlock>(path, ref xb, ref yb) * Scale(ref yb, Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref xb, TDot.ScaleOffset)));
        }

        return sumf;
    }

    /// <summary>Checks the arguments of a row kernel; returns the block count per row.</summary>
    public static int RowBlockCount(int n, int weightBlockSize, ReadOnlySpan<byte> weights, int rowBytes, int activationsLength, int rows)
    {
        int blocks = BlockCount(n, weightBlockSize, int.MaxValue, activationsLength);
        if (rowBytes < blocks * weightBlockSize || (rows > 0 && (long)rowBytes * (rows - 1) + (long)blocks * weightBlockSize > weights.Length))
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }

        return blocks;
    }

    /// <summary>
    /// Four consecutive weight rows against one Q8_K row (x86): per block the four rows' integer sums at once
    /// (<typeparamref name="TRows"/>), then each row's <c>sumf += (float)sumi · (y.d · fp16(x.d))</c> in its own lane, in
    /// block order, so every row's result is the one-row kernel's to the bit. Four rows read side by side are not the one
    /// sequential stream the hardware prefetcher follows, so the next four rows are prefetched as the loop goes, front to back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Rows4<TRows>(ref byte w, nint rowBytes, ref byte a, int blocks, Span<float> results, bool prefetchNext)
        where TRows : struct, ITernaryRows4
    {
        Vector128<float> sumf = Vector128<float>.Zero;
        ref byte x = ref w;
        nint groupBytes = 4 * rowBytes;
        nint linesPerBlock = (groupBytes / 64 + blocks - 1) / blocks;
        nint pf = groupBytes;
        for (nint i = 0; i < blocks; i++)
        {
            if (prefetchNext)
            {
                // The next group's bytes, one sequential sweep spread over this group's blocks.
                for (nint k = 0; k < linesPerBlock && pf < 2 * groupBytes; k++, pf += 64)
                {
                    Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref w, pf)));
                }
            }

            ref byte y = ref Unsafe.Add(ref a, i * BlockQ8_K.Size);
            Vector128<int> sumi = TRows.Sums4(ref x, rowBytes, ref y) - Vector128.Create(BsumTotal(ref y));
            ref byte d = ref Unsafe.Add(ref x, TRows.ScaleOffset);
            Vector128<float> dx = Vector128.Create(
                HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref d)),
                HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref d, rowBytes))),
                HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref d, 2 * rowBytes))),
                HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref d, 3 * rowBytes))));
            sumf += Vector128.ConvertToSingle(sumi) * (Vector128.Create(Unsafe.ReadUnaligned<float>(ref y)) * dx);
            x = ref Unsafe.Add(ref x, TRows.BlockBytes);
        }

        sumf.CopyTo(results);
    }

    /// <summary>Σ of the 16 bsums, i.e. Σ q8 over the block, as the scalar int it is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BsumTotal(ref byte q8Block)
    {
        Vector256<short> b = Vector256.LoadUnsafe(ref Unsafe.Add(ref q8Block, Q8Bsums)).AsInt16();
        (Vector256<int> lo, Vector256<int> hi) = Vector256.Widen(b);
        return Vector256.Sum(lo + hi);
    }

    /// <summary>Avx2: int32 lanes whose total is Σ acc16 (pairs of u8·s8 products) − Σ bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx2(Vector256<short> acc16, ref byte q8Block)
    {
        Vector256<short> bsums = Vector256.LoadUnsafe(ref Unsafe.Add(ref q8Block, Q8Bsums)).AsInt16();
        return Avx2.MultiplyAddAdjacent(acc16, Vector256.Create((short)1))
             + Avx2.MultiplyAddAdjacent(bsums, Vector256.Create((short)-1));
    }

    /// <summary>Avx512BW: int32 lanes whose total is Σ acc16 − Σ bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx512(Vector512<short> acc16, ref byte q8Block)
    {
        Vector512<int> s = Avx512BW.MultiplyAddAdjacent(acc16, Vector512.Create((short)1));
        Vector256<short> bsums = Vector256.LoadUnsafe(ref Unsafe.Add(ref q8Block, Q8Bsums)).AsInt16();
        return s.GetLower() + s.GetUpper() + Avx2.MultiplyAddAdjacent(bsums, Vector256.Create((short)-1));
    }

    /// <summary>The totals of four blocks' int32 partials at once (three horizontal adds instead of four reductions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Totals4(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        Vector256<int> h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a, b), Avx2.HorizontalAdd(c, d));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>
    /// Adds (float)sumi·scale of four consecutive blocks to <paramref name="sumf"/> one after another: the products
    /// round as the scalar ones do, and the additions keep the reference's order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Accumulate4(float sumf, Vector128<int> sumi, Vector128<float> scales)
    {
        Vector128<float> t = Vector128.ConvertToSingle(sumi) * scales;
        sumf += t.GetElement(0);
        sumf += t.GetElement(1);
        sumf += t.GetElement(2);
        sumf += t.GetElement(3);
        return sumf;
    }

    /// <summary>AdvSimd: Σ of int16 lanes (pairwise widened) − Σ bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReduceAdvSimd(Vector128<short> acc16, ref byte q8Block) =>
        Vector128.Sum(AdvSimd.AddPairwiseWidening(acc16)) - BsumTotal(ref q8Block);

    /// <summary>Portable: Σ of int16 lanes widened to int32 − Σ bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReduceVector128(Vector128<short> acc16, ref byte q8Block)
    {
        (Vector128<int> lo, Vector128<int> hi) = Vector128.Widen(acc16);
        return Vector128.Sum(lo + hi) - BsumTotal(ref q8Block);
    }

    /// <summary>AdvSimd without dot product: 16 u8·s8 products (codes ≤ 3, so exact in int16) added into two int16 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> MultiplyAddWideningAdvSimd(Vector128<short> acc, Vector128<byte> codes, Vector128<sbyte> q8)
    {
        Vector128<sbyte> c = codes.AsSByte();
        acc = AdvSimd.MultiplyWideningLowerAndAdd(acc, c.GetLower(), q8.GetLower());
        return AdvSimd.MultiplyWideningUpperAndAdd(acc, c, q8);
    }

    /// <summary>Portable: 16 u8·s8 products widened to int16 and added lane-wise (pairs of lanes summed into 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> MultiplyAddWidening(Vector128<short> acc, Vector128<byte> codes, Vector128<sbyte> q8)
    {
        (Vector128<ushort> c0, Vector128<ushort> c1) = Vector128.Widen(codes);
        (Vector128<short> y0, Vector128<short> y1) = Vector128.Widen(q8);
        return acc + c0.AsInt16() * y0 + c1.AsInt16() * y1;
    }
}

/// <summary>A ternary format's side of <see cref="TernaryDot.Dot{TDot, TBlock}"/>: its block layout and integer block sums.</summary>
internal interface ITernaryDot<TBlock> : IDotKernel
    where TBlock : unmanaged
{
    /// <summary>Bytes per weight block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>Offset of the FP16 scale in a weight block.</summary>
    static abstract int ScaleOffset { get; }

    /// <summary>Σ (q − 1)·q8 over one block, in ggml's generic loop order.</summary>
    static abstract int BlockSumReference(in TBlock x, in BlockQ8_K y);

    /// <summary>AVX-512: int32 lanes whose total is the block's Σ (q − 1)·q8.</summary>
    static abstract Vector256<int> PartialAvx512(ref byte x, ref byte y);

    /// <summary>AVX2: int32 lanes whose total is the block's Σ (q − 1)·q8.</summary>
    static abstract Vector256<int> PartialAvx2(ref byte x, ref byte y);

    /// <summary>The block's Σ (q − 1)·q8 with portable Vector128 operations.</summary>
    static abstract int BlockSumVector128(ref byte x, ref byte y);

    /// <summary>The block's Σ (q − 1)·q8 with NEON and the dot-product extension.</summary>
    static abstract int BlockSumDp(ref byte x, ref byte y);

    /// <summary>The block's Σ (q − 1)·q8 with NEON without the dot-product extension.</summary>
    static abstract int BlockSumAdvSimd(ref byte x, ref byte y);
}

/// <summary>The integer side of <see cref="TernaryDot.Rows4{TRows}"/> for one ternary format and instruction set.</summary>
internal interface ITernaryRows4
{
    /// <summary>Bytes per weight block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>Offset of the FP16 scale in a weight block.</summary>
    static abstract int ScaleOffset { get; }

    /// <summary>Σ q·q8 (q the unsigned code) of one block in each of four rows <paramref name="rowBytes"/> apart.</summary>
    static abstract Vector128<int> Sums4(ref byte x, nint rowBytes, ref byte y);
}

