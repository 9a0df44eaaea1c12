using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// TQ2_0 × Q8_K (<c>ggml_vec_dot_tq2_0_q8_K</c>): per block the exact integer Σ (q − 1)·q8, then
/// <c>sumf += (float)sumi · (y.d · fp16(x.d))</c> in block order. The vector paths compute Σ q·q8 with the codes
/// unsigned (0..3) and subtract Σ q8 from the Q8_K bsums; their integer sums equal the reference's, so
/// <see cref="Dot"/> returns the same float as <see cref="DotReference"/>.
/// </summary>
internal readonly struct TQ2_0Dot : ITernaryDot<BlockTQ2_0>, IDotRowsKernel
{
    public static QuantType WeightType => QuantType.TQ2_0;

    public static QuantType ActivationType => QuantType.Q8_K;

    /// <summary>The paths implemented (<see cref="AvxVnniRow"/> is not one: AVX-512 comes after AVX-VNNI in
    /// <see cref="DotPaths.Order"/>, and this format keeps AVX-512 where a CPU has both); <see cref="DotPath.Ssse3"/> is the portable Vector128 kernel.</summary>
    public static ReadOnlySpan<DotPath> Paths =>
        [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    private static readonly DotPath s_bestPath = DotPaths.Best(Paths);

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static DotPath BestPath => s_bestPath;

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    public static int BlockBytes => BlockTQ2_0.Size;

    public static int ScaleOffset => 64;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        TernaryDot.Dot<TQ2_0Dot, BlockTQ2_0>(weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        int blocks = TernaryDot.RowBlockCount(n, BlockTQ2_0.Size, weights, rowBytes, activations.Length, results.Length);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        int r = 0;
        for (; (BestPath is DotPath.Avx512 or DotPath.Avx2) && r + 4 <= results.Length; r += 4)
        {
            ref byte rows = ref Unsafe.Add(ref w, (nint)r * rowBytes);
            Span<float> four = results.Slice(r, 4);
            bool prefetch = r + 8 <= results.Length;
            if (BestPath == DotPath.Avx512)
            {
                TernaryDot.Rows4<Rows4Avx512>(ref rows, rowBytes, ref a, blocks, four, prefetch);
            }
            else
            {
                TernaryDot.Rows4<Rows4<Avx2Row>>(ref rows, rowBytes, ref a, blocks, four, prefetch);
            }
        }

        for (; r < results.Length; r++)
        {
            results[r] = Dot(weights.Slice(r * rowBytes, blocks * BlockTQ2_0.Size), activations, n);
        }
    }

    /// <summary>Avx512BW: the four activation vectors loaded once per block for the four rows; u8·s8 pairs in int16.</summary>
    internal readonly struct Rows4Avx512 : ITernaryRows4
    {
        public static int BlockBytes => BlockTQ2_0.Size;

        public static int ScaleOffset => 64;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Sums4(ref byte x, nint rowBytes, ref byte y)
        {
            ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
            Vector512<sbyte> a0 = Vector512.Create(Vector256.LoadUnsafe(ref q8), Vector256.LoadUnsafe(ref q8, 128)).AsSByte();
            Vector512<sbyte> a1 = Vector512.Create(Vector256.LoadUnsafe(ref q8, 32), Vector256.LoadUnsafe(ref q8, 160)).AsSByte();
            Vector512<sbyte> a2 = Vector512.Create(Vector256.LoadUnsafe(ref q8, 64), Vector256.LoadUnsafe(ref q8, 192)).AsSByte();
            Vector512<sbyte> a3 = Vector512.Create(Vector256.LoadUnsafe(ref q8, 96), Vector256.LoadUnsafe(ref q8, 224)).AsSByte();
            return TernaryDot.Totals4(
                Row(ref x, a0, a1, a2, a3), Row(ref Unsafe.Add(ref x, rowBytes), a0, a1, a2, a3),
                Row(ref Unsafe.Add(ref x, 2 * rowBytes), a0, a1, a2, a3), Row(ref Unsafe.Add(ref x, 3 * rowBytes), a0, a1, a2, a3));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Row(ref byte x, Vector512<sbyte> a0, Vector512<sbyte> a1, Vector512<sbyte> a2, Vector512<sbyte> a3)
        {
            // Word shifts: the bits a byte takes from its neighbour land above the two kept by the mask.
            Vector512<ushort> qs = Vector512.LoadUnsafe(ref x).AsUInt16();
            Vector512<byte> three = Vector512.Create((byte)3);
            Vector512<short> acc = Avx512BW.MultiplyAddAdjacent(qs.AsByte() & three, a0)
                                 + Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(qs, 2).AsByte() & three, a1);
            acc += Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(qs, 4).AsByte() & three, a2)
                 + Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(qs, 6).AsByte() & three, a3);
            Vector512<int> s = Avx512BW.MultiplyAddAdjacent(acc, Vector512.Create((short)1));
            return s.GetLower() + s.GetUpper();
        }
    }

    /// <summary>One row's int32 lanes whose total is Σ q·q8 of a block (the codes unsigned), the activations read from memory.</summary>
    internal interface IRow
    {
        static abstract Vector256<int> Row(ref byte x, ref byte q8);
    }

    /// <summary>Four rows of <typeparamref name="TRow"/>, one after another against the same activations.</summary>
    internal readonly struct Rows4<TRow> : ITernaryRows4
        where TRow : struct, IRow
    {
        public static int BlockBytes => BlockTQ2_0.Size;

        public static int ScaleOffset => 64;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Sums4(ref byte x, nint rowBytes, ref byte y)
        {
            ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
            return TernaryDot.Totals4(
                TRow.Row(ref x, ref q8), TRow.Row(ref Unsafe.Add(ref x, rowBytes), ref q8),
                TRow.Row(ref Unsafe.Add(ref x, 2 * rowBytes), ref q8), TRow.Row(ref Unsafe.Add(ref x, 3 * rowBytes), ref q8));
        }
    }

    /// <summary>AVX-VNNI: <c>vpdpbusd</c> of the unsigned codes and q8 straight into int32 (no int16 stage).</summary>
    internal readonly struct AvxVnniRow : IRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Row(ref byte x, ref byte q8)
        {
            Vector256<byte> three = Vector256.Create((byte)3);
            Vector256<ushort> q0 = Vector256.LoadUnsafe(ref x).AsUInt16();
            Vector256<ushort> q1 = Vector256.LoadUnsafe(ref x, 32).AsUInt16();
            // Constant shift counts written out (immediate shifts).
            Vector256<int> acc0 = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, q0.AsByte() & three, Vector256.LoadUnsafe(ref q8).AsSByte());
            Vector256<int> acc1 = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, q1.AsByte() & three, Vector256.LoadUnsafe(ref q8, 128).AsSByte());
            acc0 = AvxVnni.MultiplyWideningAndAdd(acc0, Vector256.ShiftRightLogical(q0, 2).AsByte() & three, Vector256.LoadUnsafe(ref q8, 32).AsSByte());
            acc1 = AvxVnni.MultiplyWideningAndAdd(acc1, Vector256.ShiftRightLogical(q1, 2).AsByte() & three, Vector256.LoadUnsafe(ref q8, 160).AsSByte());
            acc0 = AvxVnni.MultiplyWideningAndAdd(acc0, Vector256.ShiftRightLogical(q0, 4).AsByte() & three, Vector256.LoadUnsafe(ref q8, 64).AsSByte());
            acc1 = AvxVnni.MultiplyWideningAndAdd(acc1, Vector256.ShiftRightLogical(q1, 4).AsByte() & three, Vector256.LoadUnsafe(ref q8, 192).AsSByte());
            acc0 = AvxVnni.MultiplyWideningAndAdd(acc0, Vector256.ShiftRightLogical(q0, 6).AsByte() & three, Vector256.LoadUnsafe(ref q8, 96).AsSByte());
            acc1 = AvxVnni.MultiplyWideningAndAdd(acc1, Vector256.ShiftRightLogical(q1, 6).AsByte() & three, Vector256.LoadUnsafe(ref q8, 224).AsSByte());
            return acc0 + acc1;
        }
    }

    /// <summary>AVX2: <c>vpmaddubsw</c> pairs in int16 (|pair| ≤ 768, eight of them per lane), then <c>vpmaddwd</c> with ones.</summary>
    internal readonly struct Avx2Row : IRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Row(ref byte x, ref byte q8)
        {
            Vector256<byte> three = Vector256.Create((byte)3);
            Vector256<ushort> q0 = Vector256.LoadUnsafe(ref x).AsUInt16();
            Vector256<ushort> q1 = Vector256.LoadUnsafe(ref x, 32).AsUInt16();
            Vector256<short> acc0 = Avx2.MultiplyAddAdjacent(q0.AsByte() & three, Vector256.LoadUnsafe(ref q8).AsSByte())
                                  + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q0, 2).AsByte() & three, Vector256.LoadUnsafe(ref q8, 32).AsSByte());
            Vector256<short> acc1 = Avx2.MultiplyAddAdjacent(q1.AsByte() & three, Vector256.LoadUnsafe(ref q8, 128).AsSByte())
                                  + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q1, 2).AsByte() & three, Vector256.LoadUnsafe(ref q8, 160).AsSByte());
            acc0 += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q0, 4).AsByte() & three, Vector256.LoadUnsafe(ref q8, 64).AsSByte())
                  + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q0, 6).AsByte() & three, Vector256.LoadUnsafe(ref q8, 96).AsSByte());
            acc1 += Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q1, 4).AsByte() & three, Vector256.LoadUnsafe(ref q8, 192).AsSByte())
                  + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(q1, 6).AsByte() & three, Vector256.LoadUnsafe(ref q8, 224).AsSByte());
            return Avx2.MultiplyAddAdjacent(acc0 + acc1, Vector256.Create((short)1));
        }
    }

    /// <summary>Every block's integer sum from <paramref name="path"/>, in the reference's float order (<see cref="TernaryDot.DotOn"/>).</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        TernaryDot.DotOn<TQ2_0Dot, BlockTQ2_0>(path, weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = TernaryDot.BlockCount(n, BlockTQ2_0.Size, weights.Length, activations.Length);
        ReadOnlySpan<BlockTQ2_0> x = MemoryMarshal.Cast<byte, BlockTQ2_0>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0f;
        for (int i = 0; i < blocks; i++)
        {
            int sumi = BlockSumReference(in x[i], in y[i]);
            float d = y[i].D * Fp16.ToSingle(x[i].D);
            sumf += (float)sumi * d;
        }

        return sumf;
    }

    /// <summary>Σ (q − 1)·q8 over one block, in ggml's generic loop order.</summary>
    public static int BlockSumReference(in BlockTQ2_0 x, in BlockQ8_K y)
    {
        int sumi = 0;
        for (int j = 0; j < 64; j += 32)
        {
            for (int l = 0; l < 4; l++)
            {
                for (int k = 0; k < 32; k++)
                {
                    sumi += y.Qs[j * 4 + l * 32 + k] * (((x.Qs[j + k] >> (l * 2)) & 3) - 1);
                }
            }
        }

        return sumi;
    }

    /// <summary>Avx512BW: the 64 code bytes in one vector; shift l selects elements 32l.. (low half) and 128 + 32l.. (high half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx512(ref byte x, ref byte y)
    {
        Vector512<byte> qs = Vector512.LoadUnsafe(ref x);
        Vector512<byte> three = Vector512.Create((byte)3);
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector512<short> acc = Vector512<short>.Zero;
        for (int l = 0; l < 4; l++)
        {
            Vector512<byte> codes = Vector512.ShiftRightLogical(qs, 2 * l) & three;
            Vector512<sbyte> a = Vector512.Create(
                Vector256.LoadUnsafe(ref Unsafe.Add(ref q8, 32 * l)),
                Vector256.LoadUnsafe(ref Unsafe.Add(ref q8, 128 + 32 * l))).AsSByte();
            acc += Avx512BW.MultiplyAddAdjacent(codes, a);
        }

        return TernaryDot.PartialAvx512(acc, ref y);
    }

    /// <summary>Avx2: 32 code bytes per vector; maddubs (unsigned codes × signed q8) never saturates (|pair| ≤ 768).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx2(ref byte x, ref byte y)
    {
        Vector256<byte> three = Vector256.Create((byte)3);
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector256<short> acc = Vector256<short>.Zero;
        for (int c = 0; c < 2; c++)
        {
            Vector256<byte> qs = Vector256.LoadUnsafe(ref x, (nuint)(32 * c));
            for (int l = 0; l < 4; l++)
            {
                Vector256<byte> codes = Vector256.ShiftRightLogical(qs, 2 * l) & three;
                Vector256<sbyte> a = Vector256.LoadUnsafe(ref q8, (nuint)(128 * c + 32 * l)).AsSByte();
                acc += Avx2.MultiplyAddAdjacent(codes, a);
            }
        }

        return TernaryDot.PartialAvx2(acc, ref y);
    }

    /// <summary>Arm dot product: SDOT of codes (0..3 as int8) and q8 into int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockSumDp(ref byte x, ref byte y)
    {
        Vector128<byte> three = Vector128.Create((byte)3);
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector128<int> acc = Vector128<int>.Zero;
        for (int h = 0; h < 4; h++)
        {
            Vector128<byte> qs = Vector128.LoadUnsafe(ref x, (nuint)(16 * h));
            for (int l = 0; l < 4; l++)
            {
                Vector128<sbyte> codes = (Vector128.ShiftRightLogical(qs, 2 * l) & three).AsSByte();
                acc = Dp.DotProduct(acc, codes, Vector128.LoadUnsafe(ref q8, (nuint)ElementOffset(h, l)).AsSByte());
            }
        }

        return Vector128.Sum(acc) - TernaryDot.BsumTotal(ref y);
    }

    /// <summary>AdvSimd without dot product: widening multiplies into int16 (16 steps × 2 products ≤ 12288 per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockSumAdvSimd(ref byte x, ref byte y)
    {
        Vector128<byte> three = Vector128.Create((byte)3);
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector128<short> acc = Vector128<short>.Zero;
        for (int h = 0; h < 4; h++)
        {
            Vector128<byte> qs = Vector128.LoadUnsafe(ref x, (nuint)(16 * h));
            for (int l = 0; l < 4; l++)
            {
                Vector128<byte> codes = Vector128.ShiftRightLogical(qs, 2 * l) & three;
                acc = TernaryDot.MultiplyAddWideningAdvSimd(acc, codes, Vector128.LoadUnsafe(ref q8, (nuint)ElementOffset(h, l)).AsSByte());
            }
        }

        return TernaryDot.ReduceAdvSimd(acc, ref y);
    }

    /// <summary>Portable Vector128: the same steps with widening int16 multiplies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockSumVector128(ref byte x, ref byte y)
    {
        Vector128<byte> three = Vector128.Create((byte)3);
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector128<short> acc = Vector128<short>.Zero;
        for (int h = 0; h < 4; h++)
        {
            Vector128<byte> qs = Vector128.LoadUnsafe(ref x, (nuint)(16 * h));
            for (int l = 0; l < 4; l++)
            {
                Vector128<byte> codes = Vector128.ShiftRightLogical(qs, 2 * l) & three;
                acc = TernaryDot.MultiplyAddWidening(acc, codes, Vector128.LoadUnsafe(ref q8, (nuint)ElementOffset(h, l)).AsSByte());
            }
        }

        return TernaryDot.ReduceVector128(acc, ref y);
    }

    /// <summary>First element of code bytes 16h..16h+15 at shift 2l: 128c + 32l + m with c = h/2, m = 16·(h%2).</summary>
    private static int ElementOffset(int h, int l) => 128 * (h >> 1) + 32 * l + 16 * (h & 1);
}
