using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// IQ1_S × Q8_K (<c>ggml_vec_dot_iq1_s_q8_K</c>): per super-block sumi = Σ_ib ls·Σ grid·q8 and
/// sumi1 = Σ_ib ls·(±1)·(bsum pair), both exact in int32, then Σ f(d)·d8·(sumi + 0.125·sumi1) in ggml's order on every
/// path. The vector paths compute sumi (grid values −1, 0, 1: |grid| against q8 with grid's sign); sumi1 is scalar.
/// </summary>
internal readonly struct IQ1_SDot : IKDotPaths<BlockIQ1_S>
{
    public static QuantType WeightType => QuantType.IQ1_S;

    public static int BlockBytes => BlockIQ1_S.Size;

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockIQ1_S.Size, weights, activations);
        ReadOnlySpan<BlockIQ1_S> x = MemoryMarshal.Cast<byte, BlockIQ1_S>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            sumf += Fp16.ToSingle(x[i].D) * y[i].D * (ReferenceSum(in x[i], in y[i]) + IQ1_SReference.Delta * DeltaSum(in x[i], in y[i]));
        }

        return sumf;
    }

    /// <summary>Σ_ib ls·Σ grid·q8, value by value.</summary>
    private static int ReferenceSum(in BlockIQ1_S x, in BlockQ8_K y)
    {
        ReadOnlySpan<ulong> grid = IqGrids.Iq1S;
        int sumi = 0;
        for (int ib = 0; ib < 8; ++ib)
        {
            int lsum = 0;
            for (int l = 0; l < 4; ++l)
            {
                ulong point = grid[x.GridIndex(4 * ib + l)];
                for (int j = 0; j < 8; ++j)
                {
                    lsum += y.Qs[32 * ib + 8 * l + j] * (sbyte)(point >> (8 * j));
                }
            }

            sumi += Multiplier(in x, ib) * lsum;
        }

        return sumi;
    }

    /// <summary>Σ_ib ls·(±1)·(sum of the sub-block's 32 q8, from the two bsums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DeltaSum(in BlockIQ1_S x, in BlockQ8_K y)
    {
        ref short bsums = ref Unsafe.As<Int16s16, short>(ref Unsafe.AsRef(in y.Bsums));
        int sumi1 = 0;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            int m = SubBlockMultiplier(in x, ib);
            int pair = Unsafe.Add(ref bsums, 2 * ib) + Unsafe.Add(ref bsums, 2 * ib + 1);
            sumi1 += (SubBlockQh(in x, ib) & 0x8000) != 0 ? -m * pair : m * pair;
        }

        return sumi1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Multiplier(in BlockIQ1_S x, int ib) => 2 * ((x.Qh(ib) >> 12) & 7) + 1;

    /// <summary>Super-block <paramref name="i"/>'s (sumi, sumi1) as computed by <paramref name="path"/>.</summary>
    internal static unsafe (int Sum, int Mins) SuperBlockSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
    {
        ref readonly BlockIQ1_S x = ref MemoryMarshal.Cast<byte, BlockIQ1_S>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        fixed (BlockIQ1_S* px = &x)
        fixed (BlockQ8_K* py = &y)
        {
            int sum = path switch
            {
                DotPath.Avx512 => Vector512.Sum(Block512(px, py)),
                DotPath.Avx2 => Vector256.Sum(Block256(px, py)),
                DotPath.Ssse3 => Vector128.Sum(Block128(px, py)),
                DotPath.AdvSimd => BlockNeon(in x, in y),
                _ => ReferenceSum(in x, in y),
            };
            return (sum, DeltaSum(in x, in y));
        }
    }

    public static unsafe float Dot256(BlockIQ1_S* x, BlockQ8_K* y, int nb)
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            int sumi = Vector256.Sum(Block256(x, y));
            sumf += KDot.HalfToSingle(x->D) * y->D * (sumi + IQ1_SReference.Delta * DeltaSum(in *x, in *y));
        }

        return sumf;
    }

    public static unsafe float Dot128(BlockIQ1_S* x, BlockQ8_K* y, int nb)
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            int sumi = Vector128.Sum(Block128(x, y));
            sumf += KDot.HalfToSingle(x->D) * y->D * (sumi + IQ1_SReference.Delta * DeltaSum(in *x, in *y));
        }

        return sumf;
    }

    public static unsafe float Dot512(BlockIQ1_S* x, BlockQ8_K* y, int nb)
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i, ++x, ++y)
        {
            int sumi = Vector512.Sum(Block512(x, y));
            sumf += KDot.HalfToSingle(x->D) * y->D * (sumi + IQ1_SReference.Delta * DeltaSum(in *x, in *y));
        }

        return sumf;
    }

    public static float DotNeon(ref readonly BlockIQ1_S x, ref readonly BlockQ8_K y, int nb)
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly BlockIQ1_S xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            sumf += KDot.HalfToSingle(xb.D) * yb.D * (BlockNeon(in xb, in yb) + IQ1_SReference.Delta * DeltaSum(in xb, in yb));
        }

        return sumf;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Points256(ref readonly BlockIQ1_S x, nuint ib) =>
        Vector256.Create(Point(in x, ib, 0), Point(in x, ib, 1), Point(in x, ib, 2), Point(in x, ib, 3)).AsSByte();

    /// <summary>
    /// The grid point of group k of sub-block ib read straight from the block's bytes: no bounds checks (the 11-bit
    /// index cannot leave the 2048-point grid).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Point(ref readonly BlockIQ1_S x, nuint ib, int k)
    {
        nuint low = Unsafe.Add(ref Unsafe.As<Bytes32, byte>(ref Unsafe.AsRef(in x.Qs)), 4 * ib + (nuint)k);
        nuint high = ((nuint)(uint)SubBlockQh(in x, ib) >> (3 * k)) & 7;
        return Unsafe.Add(ref MemoryMarshal.GetReference(IqGrids.Iq1S), low | (high << 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SubBlockQh(ref readonly BlockIQ1_S x, nuint ib) =>
        Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref Unsafe.As<Bytes16, byte>(ref Unsafe.AsRef(in x.QhBytes)), 2 * ib));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SubBlockMultiplier(ref readonly BlockIQ1_S x, nuint ib) => 2 * ((SubBlockQh(in x, ib) >> 12) & 7) + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(BlockIQ1_S* x, BlockQ8_K* y)
    {
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<int> acc = Vector256<int>.Zero;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            Vector256<sbyte> w = Points256(in *x, ib);
            acc = KDot.MulAdd(acc, Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(q8 + 32 * ib), w), Vector256.Create((short)SubBlockMultiplier(in *x, ib)));
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(BlockIQ1_S* x, BlockQ8_K* y)
    {
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> acc = Vector128<int>.Zero;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            Vector128<short> scale = Vector128.Create((short)SubBlockMultiplier(in *x, ib));
            for (int h = 0; h < 2; ++h)
            {
                Vector128<sbyte> w = Vector128.Create(Point(in *x, ib, 2 * h), Point(in *x, ib, 2 * h + 1)).AsSByte();
                Vector128<short> products = Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w), Ssse3.Sign(Sse2.LoadVector128(q8 + 32 * ib + 16 * (nuint)h), w));
                acc += Sse2.MultiplyAddAdjacent(products, scale);
            }
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(BlockIQ1_S* x, BlockQ8_K* y)
    {
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector512<int> acc = Vector512<int>.Zero;
        for (nuint p = 0; p < 4; ++p)
        {
            Vector512<sbyte> w = Vector512.Create(Points256(in *x, 2 * p), Points256(in *x, 2 * p + 1));
            Vector512<sbyte> a = Avx512BW.LoadVector512(q8 + 64 * p);
            Vector512<sbyte> signed = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), -a, a);
            Vector512<short> scale = Vector512.Create(Vector256.Create((short)SubBlockMultiplier(in *x, 2 * p)), Vector256.Create((short)SubBlockMultiplier(in *x, 2 * p + 1)));
            acc += KDot.MulAdd(Avx512BW.Abs(w), signed, scale);
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly BlockIQ1_S x, ref readonly BlockQ8_K y)
    {
        ref readonly sbyte q8 = ref y.Qs[0];
        int sumi = 0;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            Vector128<sbyte> w0 = Vector128.Create(Point(in x, ib, 0), Point(in x, ib, 1)).AsSByte();
            Vector128<sbyte> w1 = Vector128.Create(Point(in x, ib, 2), Point(in x, ib, 3)).AsSByte();
            int s = KDot.Dot32(w0, Vector128.LoadUnsafe(in q8, 32 * ib), w1, Vector128.LoadUnsafe(in q8, 32 * ib + 16));
            sumi += SubBlockMultiplier(in x, ib) * s;
        }

        return sumi;
    }
}
