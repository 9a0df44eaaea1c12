using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q4_K × Q8_K (<c>ggml_vec_dot_q4_K_q8_K</c>): per super-block, s += d·dy·Σ_j sc_j·Σ q·q8 − dmin·dy·Σ_j m_j·bsum_j,
/// both sums exact in int32 (FORMATS.md §5.1).
/// </summary>
internal sealed class Q4_KDot : IDotKernel
{
    public static QuantType WeightType => QuantType.Q4_K;

    public static QuantType ActivationType => QuantType.Q8_K;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockQ4_K.Size, weights, activations);
        ref readonly BlockQ4_K x = ref Unsafe.As<byte, BlockQ4_K>(ref MemoryMarshal.GetReference(weights));
        ref readonly BlockQ8_K y = ref Unsafe.As<byte, BlockQ8_K>(ref MemoryMarshal.GetReference(activations));
        if (Vector512.IsHardwareAccelerated && Avx512BW.IsSupported)
        {
            return Dot512(in x, in y, nb);
        }

        if (Avx2.IsSupported)
        {
            return Dot256(in x, in y, nb);
        }

        if (AdvSimd.Arm64.IsSupported)
        {
            return DotNeon(in x, in y, nb);
        }

        return DotReference(weights, activations, n);
    }

    /// <summary>ggml's generic kernel: eight int32 lanes per super-block, eight float lane sums, the min terms apart.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int nb = KDot.SuperBlocks(n, BlockQ4_K.Size, weights, activations);
        ReadOnlySpan<BlockQ4_K> x = MemoryMarshal.Cast<byte, BlockQ4_K>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        Span<float> sums = stackalloc float[8];
        sums.Clear();
        Span<int> aux32 = stackalloc int[8];
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            int mins = LaneSums(in x[i], in y[i], aux32);
            float d = Fp16.ToSingle(x[i].D) * y[i].D;
            for (int l = 0; l < 8; ++l)
            {
                sums[l] += d * aux32[l];
            }

            float dmin = Fp16.ToSingle(x[i].DMin) * y[i].D;
            sumf -= dmin * mins;
        }

        for (int l = 0; l < 8; ++l)
        {
            sumf += sums[l];
        }

        return sumf;
    }

    /// <summary>The generic kernel's integer work for one super-block: lane e % 8 gets sc·q·q8 of element e; returns Σ m·bsum.</summary>
    internal static int LaneSums(in BlockQ4_K x, in BlockQ8_K y, Span<int> aux32)
    {
        aux32.Clear();
        ReadOnlySpan<byte> scales = x.Scales;
        int mins = 0;
        for (int j = 0; j < 16; ++j)
        {
            KScales.Get(j / 2, scales, out _, out int m);
            mins += y.Bsums[j] * m;
        }

        for (int e = 0; e < 256; ++e)
        {
            int c = e / 64, h = (e / 32) % 2, l = e % 32;
            int q = (x.Qs[32 * c + l] >> (4 * h)) & 0xF;
            KScales.Get(e / 32, scales, out int sc, out _);
            aux32[e % 8] += sc * (y.Qs[e] * q);
        }

        return mins;
    }

    /// <summary>Super-block <paramref name="i"/>'s (Σ sc·q·q8, Σ m·bsum) as computed by <paramref name="path"/>.</summary>
    internal static (int Sum, int Mins) SuperBlockSums(KDotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int i)
    {
        ref readonly BlockQ4_K x = ref MemoryMarshal.Cast<byte, BlockQ4_K>(weights)[i];
        ref readonly BlockQ8_K y = ref MemoryMarshal.Cast<byte, BlockQ8_K>(activations)[i];
        switch (path)
        {
            case KDotPath.Avx512:
            {
                Vector512<int> s = Block512(in x, in y, out Vector128<int> m);
                return (Vector512.Sum(s), Vector128.Sum(m));
            }

            case KDotPath.Avx2:
            {
                Vector256<int> s = Block256(in x, in y, out Vector128<int> m);
                return (Vector256.Sum(s), Vector128.Sum(m));
            }

            case KDotPath.AdvSimd:
            {
                int s = BlockNeon(in x, in y, out int m);
                return (s, m);
            }

            default:
            {
                Span<int> lanes = stackalloc int[8];
                int m = LaneSums(in x, in y, lanes);
                int s = 0;
                foreach (int v in lanes)
                {
                    s += v;
                }

                return (s, m);
            }
        }
    }

    private static float Dot256(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, int nb)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly BlockQ4_K xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            Vector256<int> s = Block256(in xb, in yb, out Vector128<int> m);
            acc = Vector256.MultiplyAddEstimate(Vector256.Create(Fp16.ToSingle(xb.D) * yb.D), Vector256.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(Fp16.ToSingle(xb.DMin) * yb.D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector256.Sum(acc) - Vector128.Sum(accm);
    }

    private static float Dot512(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, int nb)
    {
        Vector512<float> acc = Vector512<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly BlockQ4_K xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            Vector512<int> s = Block512(in xb, in yb, out Vector128<int> m);
            acc = Vector512.MultiplyAddEstimate(Vector512.Create(Fp16.ToSingle(xb.D) * yb.D), Vector512.ConvertToSingle(s), acc);
            accm = Vector128.MultiplyAddEstimate(Vector128.Create(Fp16.ToSingle(xb.DMin) * yb.D), Vector128.ConvertToSingle(m), accm);
        }

        return Vector512.Sum(acc) - Vector128.Sum(accm);
    }

    private static float DotNeon(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, int nb)
    {
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            ref readonly BlockQ4_K xb = ref Unsafe.Add(ref Unsafe.AsRef(in x), i);
            ref readonly BlockQ8_K yb = ref Unsafe.Add(ref Unsafe.AsRef(in y), i);
            int s = BlockNeon(in xb, in yb, out int m);
            sumf += Fp16.ToSingle(xb.D) * yb.D * s - Fp16.ToSingle(xb.DMin) * yb.D * m;
        }

        return sumf;
    }

    /// <summary>Σ m_j·(bsum_2j + bsum_2j+1) in four int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MinSums(ref readonly BlockQ8_K y, Vector128<byte> scalesAndMins)
    {
        ref readonly short bs = ref y.Bsums[0];
        Vector128<short> pairs = Ssse3.HorizontalAdd(Vector128.LoadUnsafe(in bs), Vector128.LoadUnsafe(in bs, 8));
        return Sse2.MultiplyAddAdjacent(pairs, Sse41.ConvertToVector128Int16(Sse2.ShiftRightLogical128BitLane(scalesAndMins, 8)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Block256(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x.Scales);
        mins = MinSums(in y, sm);
        Vector128<short> sc = Sse41.ConvertToVector128Int16(sm);
        Vector256<byte> scales = Vector256.Create(sc, sc).AsByte();

        // Broadcasts int16 lane j of each 128-bit half: shuffle bytes (2j, 2j+1), advanced by 2 per sub-block.
        Vector256<byte> pick = Vector256.Create((ushort)0x0100).AsByte();
        Vector256<byte> next = Vector256.Create((byte)2);
        Vector256<byte> low4 = Vector256.Create((byte)0x0F);
        ref readonly byte qs = ref x.Qs[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        Vector256<int> acc = Vector256<int>.Zero;
        for (int c = 0; c < 4; ++c)
        {
            Vector256<byte> q4 = Vector256.LoadUnsafe(in qs, (nuint)(32 * c));
            Vector256<short> s0 = Avx2.Shuffle(scales, pick).AsInt16();
            pick += next;
            Vector256<short> s1 = Avx2.Shuffle(scales, pick).AsInt16();
            pick += next;
            acc += KDot.MulAdd(q4 & low4, Vector256.LoadUnsafe(in q8, (nuint)(64 * c)), s0);
            acc += KDot.MulAdd(Vector256.ShiftRightLogical(q4.AsUInt16(), 4).AsByte() & low4, Vector256.LoadUnsafe(in q8, (nuint)(64 * c + 32)), s1);
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Block512(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, out Vector128<int> mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x.Scales);
        mins = MinSums(in y, sm);
        Vector512<short> sc = Sse41.ConvertToVector128Int16(sm).ToVector256Unsafe().ToVector512Unsafe();

        // 64 bytes of Qs are chunks 2p and 2p+1: low nibbles are sub-blocks 4p and 4p+2, high nibbles 4p+1 and 4p+3.
        Vector512<short> pickLow = Vector512.Create(Vector256.Create((short)0), Vector256.Create((short)2));
        Vector512<short> pickHigh = Vector512.Create(Vector256.Create((short)1), Vector256.Create((short)3));
        Vector512<short> four = Vector512.Create((short)4);
        Vector512<byte> low4 = Vector512.Create((byte)0x0F);
        ref readonly byte qs = ref x.Qs[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        Vector512<int> acc = Vector512<int>.Zero;
        for (int p = 0; p < 2; ++p)
        {
            Vector512<byte> q4 = Vector512.LoadUnsafe(in qs, (nuint)(64 * p));
            acc += KDot.MulAdd(q4 & low4, KDot.Load2x32(in q8, 128 * p, 128 * p + 64), Avx512BW.PermuteVar32x16(sc, pickLow));
            acc += KDot.MulAdd(Vector512.ShiftRightLogical(q4.AsUInt16(), 4).AsByte() & low4, KDot.Load2x32(in q8, 128 * p + 32, 128 * p + 96),
                               Avx512BW.PermuteVar32x16(sc, pickHigh));
            pickLow += four;
            pickHigh += four;
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockNeon(ref readonly BlockQ4_K x, ref readonly BlockQ8_K y, out int mins)
    {
        Vector128<byte> sm = KScales.Unpack(in x.Scales);
        ref readonly short bs = ref y.Bsums[0];
        Vector128<short> pairs = AdvSimd.Arm64.AddPairwise(Vector128.LoadUnsafe(in bs), Vector128.LoadUnsafe(in bs, 8));
        Vector128<short> m16 = AdvSimd.ZeroExtendWideningUpper(sm).AsInt16();
        Vector128<int> prod = AdvSimd.MultiplyWideningUpperAndAdd(AdvSimd.MultiplyWideningLower(pairs.GetLower(), m16.GetLower()), pairs, m16);
        mins = AdvSimd.Arm64.AddAcross(prod).ToScalar();

        Vector128<byte> low4 = Vector128.Create((byte)0x0F);
        ref readonly byte qs = ref x.Qs[0];
        ref readonly sbyte q8 = ref y.Qs[0];
        int sum = 0;
        for (int c = 0; c < 4; ++c)
        {
            Vector128<byte> a = Vector128.LoadUnsafe(in qs, (nuint)(32 * c));
            Vector128<byte> b = Vector128.LoadUnsafe(in qs, (nuint)(32 * c + 16));
            int lo = KDot.Dot32((a & low4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c)),
                                (b & low4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 16)));
            int hi = KDot.Dot32(AdvSimd.ShiftRightLogical(a, 4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 32)),
                                AdvSimd.ShiftRightLogical(b, 4).AsSByte(), Vector128.LoadUnsafe(in q8, (nuint)(64 * c + 48)));
            sum += sm.GetElement(2 * c) * lo + sm.GetElement(2 * c + 1) * hi;
        }

        return sum;
    }
}
