using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// TQ1_0 × Q8_K (<c>ggml_vec_dot_tq1_0_q8_K</c>): per block the exact integer Σ (t − 1)·q8, then
/// <c>sumf += (float)sumi · (fp16(x.d) · y.d)</c> in block order. The vector paths decode trit n of a byte b as
/// t = [b·3ⁿ ≥ 86] + [b·3ⁿ ≥ 171] (b·3ⁿ wrapping in byte lanes), which is <c>((uint8)(b·3ⁿ)·3) &gt;&gt; 8</c> for
/// every byte, compute Σ t·q8 with t unsigned and subtract Σ q8 from the bsums; their integer sums equal the
/// reference's, so <see cref="Dot"/> returns the same float as <see cref="DotReference"/>.
/// </summary>
internal readonly struct TQ1_0Dot : ITernaryDot<BlockTQ1_0>
{
    public static QuantType WeightType => QuantType.TQ1_0;

    public static QuantType ActivationType => QuantType.Q8_K;

    /// <summary>The paths implemented; <see cref="DotPath.Ssse3"/> is the portable Vector128 kernel.</summary>
    public static ReadOnlySpan<DotPath> Paths =>
        [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    private static readonly DotPath s_bestPath = DotPaths.Best(Paths);

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static DotPath BestPath => s_bestPath;

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    public static int BlockBytes => BlockTQ1_0.Size;

    public static int ScaleOffset => 52;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        TernaryDot.Dot<TQ1_0Dot, BlockTQ1_0>(weights, activations, n);

    /// <summary>Every block's integer sum from <paramref name="path"/>, in the reference's float order (<see cref="TernaryDot.DotOn"/>).</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        TernaryDot.DotOn<TQ1_0Dot, BlockTQ1_0>(path, weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = TernaryDot.BlockCount(n, BlockTQ1_0.Size, weights.Length, activations.Length);
        ReadOnlySpan<BlockTQ1_0> x = MemoryMarshal.Cast<byte, BlockTQ1_0>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0f;
        for (int i = 0; i < blocks; i++)
        {
            int sumi = BlockSumReference(in x[i], in y[i]);
            sumf += (float)sumi * (Fp16.ToSingle(x[i].D) * y[i].D);
        }

        return sumf;
    }

    /// <summary>Σ (t − 1)·q8 over one block, in ggml's generic loop order.</summary>
    public static int BlockSumReference(in BlockTQ1_0 x, in BlockQ8_K y)
    {
        int sum = 0;
        for (int j = 0; j < 32; j += 32)
        {
            for (int l = 0; l < 5; l++)
            {
                for (int m = 0; m < 32; m++)
                {
                    sum += (TQ1_0Reference.Trit(x.Qs[j + m], l) - 1) * y.Qs[j * 5 + l * 32 + m];
                }
            }
        }

        for (int j = 32; j < 48; j += 16)
        {
            for (int l = 0; l < 5; l++)
            {
                for (int m = 0; m < 16; m++)
                {
                    sum += (TQ1_0Reference.Trit(x.Qs[j + m], l) - 1) * y.Qs[j * 5 + l * 16 + m];
                }
            }
        }

        for (int l = 0; l < 4; l++)
        {
            for (int j = 0; j < 4; j++)
            {
                sum += (TQ1_0Reference.Trit(x.Qh[j], l) - 1) * y.Qs[48 * 5 + l * 4 + j];
            }
        }

        return sum;
    }

    /// <summary>
    /// The 16 qh trits (elements 240..255) as bytes b·3ⁿ at position 4n + j: each byte times 3ⁿ in a uint, even and odd
    /// bytes apart so that no product (≤ 27·255) reaches the next byte kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<byte> QhPowers(ref byte x)
    {
        uint q = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref x, 48));
        return Vector128.Create(q, TimesInBytes(q, 3), TimesInBytes(q, 9), TimesInBytes(q, 27)).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TimesInBytes(uint q, uint k) =>
        unchecked(((q & 0x00FF00FFu) * k & 0x00FF00FFu) | ((q & 0xFF00FF00u) * k & 0xFF00FF00u));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Trit(Vector128<byte> t) =>
        Vector128<byte>.Zero - Vector128.GreaterThanOrEqual(t, Vector128.Create((byte)86))
                             - Vector128.GreaterThanOrEqual(t, Vector128.Create((byte)171));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Trit(Vector256<byte> t)
    {
        // ⌊3t/256⌋ for every byte without a multiply: with s = t ∸ 1, avg(s, avg(s, 0)) = ⌊(s + ⌊(s + 1)/2⌋ + 1)/2⌋ has
        // bits 6..7 equal to it for all 256 values (checked exhaustively by the tests through the scalar reference).
        Vector256<byte> s = Avx2.SubtractSaturate(t, Vector256.Create((byte)1));
        Vector256<byte> r = Avx2.Average(s, Avx2.Average(s, Vector256<byte>.Zero));
        return Vector256.ShiftRightLogical(r.AsUInt16(), 6).AsByte() & Vector256.Create((byte)3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Trit(Vector512<byte> t)
    {
        // As the Vector256 overload.
        Vector512<byte> s = Avx512BW.SubtractSaturate(t, Vector512.Create((byte)1));
        Vector512<byte> r = Avx512BW.Average(s, Avx512BW.Average(s, Vector512<byte>.Zero));
        return Vector512.ShiftRightLogical(r.AsUInt16(), 6).AsByte() & Vector512.Create((byte)3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Times3(Vector128<byte> v) => v + v + v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Times3(Vector256<byte> v) => v + v + v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Times3(Vector512<byte> v) => v + v + v;

    /// <summary>Avx512BW: four 64-element steps; (trit 4 of qs[0..31], elements 128..159) pairs with the 160.. tail (224..255).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx512(ref byte x, ref byte y)
    {
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector256<byte> a = Vector256.LoadUnsafe(ref x);
        Vector512<byte> t = Vector512.Create(a, Times3(a));                  // trits 0, 1: elements 0..63
        Vector512<short> acc = Avx512BW.MultiplyAddAdjacent(Trit(t), Vector512.LoadUnsafe(ref q8).AsSByte());
        t = Times3(Times3(t));                                               // trits 2, 3: elements 64..127
        acc += Avx512BW.MultiplyAddAdjacent(Trit(t), Vector512.LoadUnsafe(ref q8, 64).AsSByte());

        Vector128<byte> b = Vector128.LoadUnsafe(ref x, 32);
        Vector128<byte> b3 = Times3(b);
        Vector128<byte> b9 = Times3(b3);
        Vector128<byte> b27 = Times3(b9);
        Vector512<byte> u = Vector512.Create(Vector256.Create(b, b3), Vector256.Create(b9, b27)); // elements 160..223
        acc += Avx512BW.MultiplyAddAdjacent(Trit(u), Vector512.LoadUnsafe(ref q8, 160).AsSByte());

        Vector256<byte> a81 = Times3(Times3(t.GetLower()));                 // trit 4 of qs[0..31]: elements 128..159
        Vector512<byte> v = Vector512.Create(a81, Vector256.Create(Times3(b27), QhPowers(ref x)));
        Vector512<sbyte> yv = Vector512.Create(Vector256.LoadUnsafe(ref q8, 128), Vector256.LoadUnsafe(ref q8, 224)).AsSByte();
        acc += Avx512BW.MultiplyAddAdjacent(Trit(v), yv);

        return TernaryDot.PartialAvx512(acc, ref y);
    }

    /// <summary>Avx2: five steps over qs[0..31], then qs[32..47] two trits at a time, then trit 4 of qs[32..47] with qh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> PartialAvx2(ref byte x, ref byte y)
    {
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        Vector256<byte> t = Vector256.LoadUnsafe(ref x);
        Vector256<short> acc = Avx2.MultiplyAddAdjacent(Trit(t), Vector256.LoadUnsafe(ref q8).AsSByte());
        for (int l = 1; l < 5; l++)
        {
            t = Times3(t);
            acc += Avx2.MultiplyAddAdjacent(Trit(t), Vector256.LoadUnsafe(ref q8, (nuint)(32 * l)).AsSByte());
        }

        Vector128<byte> b = Vector128.LoadUnsafe(ref x, 32);
        Vector256<byte> u = Vector256.Create(b, Times3(b));                  // trits 0, 1: elements 160..191
        acc += Avx2.MultiplyAddAdjacent(Trit(u), Vector256.LoadUnsafe(ref q8, 160).AsSByte());
        u = Times3(Times3(u));                                               // trits 2, 3: elements 192..223
        acc += Avx2.MultiplyAddAdjacent(Trit(u), Vector256.LoadUnsafe(ref q8, 192).AsSByte());
        Vector256<byte> v = Vector256.Create(Times3(Times3(u.GetLower())), QhPowers(ref x)); // elements 224..255
        acc += Avx2.MultiplyAddAdjacent(Trit(v), Vector256.LoadUnsafe(ref q8, 224).AsSByte());

        return TernaryDot.PartialAvx2(acc, ref y);
    }

    public static int BlockSumDp(ref byte x, ref byte y) => BlockSum128<DotProductStep>(ref x, ref y);

    public static int BlockSumAdvSimd(ref byte x, ref byte y) => BlockSum128<AdvSimdStep>(ref x, ref y);

    public static int BlockSumVector128(ref byte x, ref byte y) => BlockSum128<PortableStep>(ref x, ref y);

    /// <summary>The 16-element steps of the 128-bit paths, in the layout's element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockSum128<TStep>(ref byte x, ref byte y)
        where TStep : struct, IStep128
    {
        ref byte q8 = ref Unsafe.Add(ref y, TernaryDot.Q8Values);
        TStep acc = default;
        Vector128<byte> t0 = Vector128.LoadUnsafe(ref x);
        Vector128<byte> t1 = Vector128.LoadUnsafe(ref x, 16);
        Vector128<byte> t2 = Vector128.LoadUnsafe(ref x, 32);
        for (int l = 0; l < 5; l++)
        {
            acc.Add(Trit(t0), Vector128.LoadUnsafe(ref q8, (nuint)(32 * l)).AsSByte());
            acc.Add(Trit(t1), Vector128.LoadUnsafe(ref q8, (nuint)(32 * l + 16)).AsSByte());
            acc.Add(Trit(t2), Vector128.LoadUnsafe(ref q8, (nuint)(160 + 16 * l)).AsSByte());
            t0 = Times3(t0);
            t1 = Times3(t1);
            t2 = Times3(t2);
        }

        acc.Add(Trit(QhPowers(ref x)), Vector128.LoadUnsafe(ref q8, 240).AsSByte());
        return acc.Reduce(ref y);
    }

    /// <summary>One 128-bit accumulation scheme of Σ t·q8 (t unsigned 0..2) and its reduction with the bsums.</summary>
    private interface IStep128
    {
        void Add(Vector128<byte> codes, Vector128<sbyte> q8);

        int Reduce(ref byte q8Block);
    }

    private struct DotProductStep : IStep128
    {
        private Vector128<int> _acc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(Vector128<byte> codes, Vector128<sbyte> q8) => _acc = Dp.DotProduct(_acc, codes.AsSByte(), q8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Reduce(ref byte q8Block) => Vector128.Sum(_acc) - TernaryDot.BsumTotal(ref q8Block);
    }

    /// <summary>16 steps × 2 products ≤ 2·128 each: at most 8192 per int16 lane.</summary>
    private struct AdvSimdStep : IStep128
    {
        private Vector128<short> _acc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(Vector128<byte> codes, Vector128<sbyte> q8) => _acc = TernaryDot.MultiplyAddWideningAdvSimd(_acc, codes, q8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Reduce(ref byte q8Block) => TernaryDot.ReduceAdvSimd(_acc, ref q8Block);
    }

    private struct PortableStep : IStep128
    {
        private Vector128<short> _acc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(Vector128<byte> codes, Vector128<sbyte> q8) => _acc = TernaryDot.MultiplyAddWidening(_acc, codes, q8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly int Reduce(ref byte q8Block) => TernaryDot.ReduceVector128(_acc, ref q8Block);
    }
}
