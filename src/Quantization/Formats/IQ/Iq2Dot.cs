using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// How one IQ2 super-block names its values: per group of 8 (g = 0..31) a grid point of eight magnitudes and eight
/// sign bits; per half sub-block of 16 (h = 0..15) an odd multiplier ls = 2s + 1.
/// </summary>
internal interface IIq2Blocks<TSelf, TBlock> : IKScaledBlocks<TSelf, TBlock>
    where TSelf : IIq2Blocks<TSelf, TBlock>
    where TBlock : unmanaged
{
    static abstract ulong Grid(in TBlock x, int g);

    /// <summary>Bit j set negates element j of group <paramref name="g"/>.</summary>
    static abstract byte Signs(in TBlock x, int g);

    /// <summary>The 4-bit scale s of half <paramref name="h"/>: dequantized d·(0.5 + s)·0.25, multiplier 2s + 1 in the dots.</summary>
    static abstract int ScaleCode(in TBlock x, int h);

    // The vector paths read a sub-block of 32 values (ib = 0..7, groups k = 0..3) straight from the block's bytes:
    // no per-group index arithmetic or bounds checks (indices are masked to their table's size by construction).

    /// <summary>The grid point of group k of sub-block ib, as <see cref="Grid"/> of group 4·ib + k.</summary>
    static abstract ulong SubBlockGrid(ref readonly TBlock x, nuint ib, int k);

    /// <summary>The signs of group k of sub-block ib as byte masks: 0xFF where the value is negative.</summary>
    static abstract ulong SubBlockSignMask(ref readonly TBlock x, nuint ib, int k);

    /// <summary>The multiplier 2s + 1 of half h (0, 1) of sub-block ib.</summary>
    static abstract int SubBlockMultiplier(ref readonly TBlock x, nuint ib, int h);

    /// <summary>The multipliers of sub-block ib: eight int16 lanes of half 0, then eight of half 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual Vector256<short> SubBlockScale256(ref readonly TBlock x, nuint ib) =>
        Vector256.Create(Vector128.Create((short)TSelf.SubBlockMultiplier(in x, ib, 0)), Vector128.Create((short)TSelf.SubBlockMultiplier(in x, ib, 1)));

    static float IKDotPaths<TBlock>.DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Iq2Dot<TSelf, TBlock>.Reference(weights, activations, n, TSelf.BlockBytes);

    static int IKScaledBlocks<TSelf, TBlock>.SuperBlockSum(in TBlock x, in BlockQ8_K y) => Iq2Dot<TSelf, TBlock>.ReferenceSum(in x, in y);

    static unsafe Vector256<int> IKScaledBlocks<TSelf, TBlock>.Block256(TBlock* x, BlockQ8_K* y) => Iq2Dot<TSelf, TBlock>.Block256(x, y);

    static unsafe Vector512<int> IKScaledBlocks<TSelf, TBlock>.Block512(TBlock* x, BlockQ8_K* y) => Iq2Dot<TSelf, TBlock>.Block512(x, y);

    static unsafe Vector128<int> IKScaledBlocks<TSelf, TBlock>.Block128(TBlock* x, BlockQ8_K* y) => Iq2Dot<TSelf, TBlock>.Block128(x, y);

    static int IKScaledBlocks<TSelf, TBlock>.BlockNeon(ref readonly TBlock x, ref readonly BlockQ8_K y) => Iq2Dot<TSelf, TBlock>.BlockNeon(in x, in y);

    // The scaled row loops omit ggml's final factor 0.125 (exact: a power of two).
    // AVX-512 runs the 256-bit body: eight table lookups per 64 values dominate, and joining two sub-blocks into one
    // 512-bit vector only adds inserts (measured slower on Zen 4); Block512 gives the same lanes for the per-path tests.
    static unsafe float IKDotPaths<TBlock>.Dot512(TBlock* x, BlockQ8_K* y, int nb) => 0.125f * KDot.ScaledDot256<TSelf, TBlock>(x, y, nb);

    static unsafe float IKDotPaths<TBlock>.Dot256(TBlock* x, BlockQ8_K* y, int nb) => 0.125f * KDot.ScaledDot256<TSelf, TBlock>(x, y, nb);

    static unsafe float IKDotPaths<TBlock>.Dot128(TBlock* x, BlockQ8_K* y, int nb) => 0.125f * KDot.ScaledDot128<TSelf, TBlock>(x, y, nb);

    static float IKDotPaths<TBlock>.DotNeon(ref readonly TBlock x, ref readonly BlockQ8_K y, int nb) => 0.125f * KDot.ScaledDotNeon<TSelf, TBlock>(in x, in y, nb);
}

/// <summary>
/// The IQ2 × Q8_K dots (<c>ggml_vec_dot_iq2_xxs_q8_K</c>, <c>_iq2_xs_</c>, <c>_iq2_s_</c>): per super-block
/// bsum = Σ_h ls_h·Σ grid·sign·q8 is exact in int32 (|bsum| ≤ 16·31·2·43·127·8), then
/// 0.125·Σ (d·d8)·bsum. Every vector path computes bsum exactly: grid magnitudes (≤ 43) as unsigned bytes against the
/// sign-adjusted q8 (|q8| ≤ 127), so no pair sum saturates int16.
/// </summary>
internal static class Iq2Dot<TBlocks, TBlock>
    where TBlocks : IIq2Blocks<TBlocks, TBlock>
    where TBlock : unmanaged
{
    /// <summary>ggml's generic kernel: sumf += (fp16(d)·d8)·bsum per super-block, times 0.125 at the end.</summary>
    public static float Reference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, int blockBytes)
    {
        int nb = KDot.SuperBlocks(n, blockBytes, weights, activations);
        ReadOnlySpan<TBlock> x = MemoryMarshal.Cast<byte, TBlock>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        float sumf = 0;
        for (int i = 0; i < nb; ++i)
        {
            float d = Fp16.ToSingle(TBlocks.D(in x[i])) * y[i].D;
            sumf += d * ReferenceSum(in x[i], in y[i]);
        }

        return 0.125f * sumf;
    }

    /// <summary>One super-block's bsum, value by value.</summary>
    public static int ReferenceSum(in TBlock x, in BlockQ8_K y)
    {
        int bsum = 0;
        for (int h = 0; h < 16; ++h)
        {
            int sumi = 0;
            for (int g = 2 * h; g < 2 * h + 2; ++g)
            {
                ulong grid = TBlocks.Grid(in x, g);
                byte signs = TBlocks.Signs(in x, g);
                for (int j = 0; j < 8; ++j)
                {
                    int v = (byte)(grid >> (8 * j)) * y.Qs[8 * g + j];
                    sumi += (signs & (1 << j)) != 0 ? -v : v;
                }
            }

            bsum += sumi * Multiplier(in x, h);
        }

        return bsum;
    }

    /// <summary>Eight sign bits as eight bytes, 0xFF where the bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SignMask(byte signs) =>
        Iq2SignMasks.Of(signs);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<int> Block256(TBlock* x, BlockQ8_K* y)
    {
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector256<int> acc = Vector256<int>.Zero;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            Vector256<byte> w = Grid256(in *x, ib);
            Vector256<sbyte> m = Signs256(in *x, ib);
            Vector256<sbyte> a = Avx.LoadVector256(q8 + 32 * ib);
            acc = KDot.MulAdd(acc, w, (a ^ m) - m, Scale256(in *x, ib));
        }

        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> Block128(TBlock* x, BlockQ8_K* y)
    {
        sbyte* q8 = (sbyte*)&y->Qs;
        Vector128<int> acc = Vector128<int>.Zero;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            for (int h = 0; h < 2; ++h)
            {
                Vector128<byte> w = Vector128.Create(TBlocks.SubBlockGrid(in *x, ib, 2 * h), TBlocks.SubBlockGrid(in *x, ib, 2 * h + 1)).AsByte();
                Vector128<sbyte> m = Vector128.Create(TBlocks.SubBlockSignMask(in *x, ib, 2 * h), TBlocks.SubBlockSignMask(in *x, ib, 2 * h + 1)).AsSByte();
                Vector128<sbyte> a = Sse2.LoadVector128(q8 + 32 * ib + 16 * (nuint)h);
                Vector128<short> products = Ssse3.MultiplyAddAdjacent(w, (a ^ m) - m);
                acc += Sse2.MultiplyAddAdjacent(products, Vector128.Create((short)TBlocks.SubBlockMultiplier(in *x, ib, h)));
            }
        }

        return acc;
    }

    /// <summary>The lanes of <see cref="Block256"/> widened: AVX-512 runs the 256-bit body (see <see cref="IIq2Blocks{TSelf, TBlock}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<int> Block512(TBlock* x, BlockQ8_K* y) => Vector512.Create(Block256(x, y), Vector256<int>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockNeon(ref readonly TBlock x, ref readonly BlockQ8_K y)
    {
        ref readonly sbyte q8 = ref y.Qs[0];
        int bsum = 0;
        for (nuint ib = 0; ib < 8; ++ib)
        {
            for (int h = 0; h < 2; ++h)
            {
                Vector128<sbyte> w = Vector128.Create(TBlocks.SubBlockGrid(in x, ib, 2 * h), TBlocks.SubBlockGrid(in x, ib, 2 * h + 1)).AsSByte();
                Vector128<sbyte> m = Vector128.Create(TBlocks.SubBlockSignMask(in x, ib, 2 * h), TBlocks.SubBlockSignMask(in x, ib, 2 * h + 1)).AsSByte();
                Vector128<int> s = KDot.Dot4(Vector128<int>.Zero, (w ^ m) - m, Vector128.LoadUnsafe(in q8, 32 * ib + 16 * (nuint)h));
                bsum += TBlocks.SubBlockMultiplier(in x, ib, h) * AdvSimd.Arm64.AddAcross(s).ToScalar();
            }
        }

        return bsum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Grid256(ref readonly TBlock x, nuint ib) =>
        Vector256.Create(TBlocks.SubBlockGrid(in x, ib, 0), TBlocks.SubBlockGrid(in x, ib, 1), TBlocks.SubBlockGrid(in x, ib, 2), TBlocks.SubBlockGrid(in x, ib, 3)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Signs256(ref readonly TBlock x, nuint ib) =>
        Vector256.Create(TBlocks.SubBlockSignMask(in x, ib, 0), TBlocks.SubBlockSignMask(in x, ib, 1), TBlocks.SubBlockSignMask(in x, ib, 2), TBlocks.SubBlockSignMask(in x, ib, 3)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Scale256(ref readonly TBlock x, nuint ib) => TBlocks.SubBlockScale256(in x, ib);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Multiplier(in TBlock x, int h) => 2 * TBlocks.ScaleCode(in x, h) + 1;

}

/// <summary>Sign bytes expanded to byte masks (0xFF where the bit is set), built once.</summary>
internal static class Iq2SignMasks
{
    /// <summary>All 256 sign bytes.</summary>
    public static readonly ulong[] Table = Build();

    /// <summary>The 128 seven-bit sign codes with their parity bit (<see cref="IqSigns.Signs"/>), expanded.</summary>
    public static readonly ulong[] Even = BuildEven();

    /// <summary>Mask of sign byte <paramref name="signs"/>, no bounds check (a byte indexes 256 entries).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Of(byte signs) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Table), signs);

    /// <summary>Mask of seven-bit sign code <paramref name="code"/> (below 128: the caller masks it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong OfCode(nuint code) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Even), code);

    private static ulong[] Build()
    {
        var t = new ulong[256];
        for (int s = 0; s < 256; ++s)
        {
            for (int j = 0; j < 8; ++j)
            {
                if ((s & (1 << j)) != 0)
                {
                    t[s] |= 0xFFUL << (8 * j);
                }
            }
        }

        return t;
    }

    private static ulong[] BuildEven()
    {
        ulong[] all = Build();
        var t = new ulong[128];
        for (int c = 0; c < 128; ++c)
        {
            t[c] = all[IqSigns.Signs[c]];
        }

        return t;
    }
}
