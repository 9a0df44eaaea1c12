using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q1_0 weights against Q8_0 (<c>ggml_vec_dot_q1_0_q8_0</c>): a 128-value block meets four Q8_0 blocks, each against 4
/// bytes of sign bits. Code = +1 where the bit is set, else −1; unsigned form 2·bit (<see cref="Offset"/> 1).
/// </summary>
internal readonly struct Q1_0Weights : IWideBlockWeights
{
    public static QuantType WeightType => QuantType.Q1_0;
    public static int BlockBytes => BlockQ1_0.Size;
    public static int SubBlocks => 4;
    public static int SubBlockBytes => 4;
    public static bool HasMin => false;
    public static bool NonNegative => false;
    public static int Offset => 1;

    /// <summary>Σ ±y over one Q8_0 block, byte by byte as ggml's generic kernel.</summary>
    public static int IntegerSumReference(ref readonly byte bits, ref readonly sbyte y)
    {
        ref byte b = ref Unsafe.AsRef(in bits);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi = 0;
        for (int k = 0; k < 4; k++)
        {
            int mask = Unsafe.Add(ref b, k);
            for (int j = 0; j < 8; j++)
            {
                int q = Unsafe.Add(ref yr, 8 * k + j);
                sumi += (mask & (1 << j)) != 0 ? q : -q;
            }
        }

        return sumi;
    }

    /// <summary>ggml's term of one Q8_0 block inside the 128-value block, d_y·Σ; the block's d_x multiplies their sum.</summary>
    public static float ScaleReference(int sumi, float dx, float dy) => dy * sumi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte bits) =>
        Block32Decode.BitMask256(Unsafe.ReadUnaligned<uint>(in bits)) & Vector256.Create((byte)2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte bits) =>
        (DecodeUnsigned256(in bits) - Vector256<byte>.One).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte bits, out Vector128<sbyte> high)
    {
        uint all = Unsafe.ReadUnaligned<uint>(in bits);
        Vector128<byte> two = Vector128.Create((byte)2);
        high = ((Block32Decode.BitMask128(all >> 16) & two) - Vector128<byte>.One).AsSByte();
        return ((Block32Decode.BitMask128(all & 0xFFFF) & two) - Vector128<byte>.One).AsSByte();
    }

    public static bool HasSliceSums256 => true;

    /// <summary>Σy of each slice half, in the lanes of <see cref="SliceSums256"/>: the term Σ ±y = 2·Σ_set y − Σy subtracts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> SliceOffsets256(Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3)
    {
        Vector256<byte> ones = Vector256<byte>.One;
        return Pack(ones, y0, ones, y1, ones, y2, ones, y3);
    }

    /// <summary>
    /// Σ ±y = 2·Σ_set y − Σy per slice half: the set bits as 0/1 bytes (one shuffle, an and and an unsigned min), pairs by
    /// <c>vpmaddubsw</c>, then <see cref="Pack"/>; <paramref name="offsets"/> from <see cref="SliceOffsets256"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> SliceSums256(ref readonly byte codes, Vector256<sbyte> y0, Vector256<sbyte> y1, Vector256<sbyte> y2, Vector256<sbyte> y3, Vector256<int> offsets)
    {
        ref byte c = ref Unsafe.AsRef(in codes);
        Vector256<int> set = Pack(Bits(Unsafe.ReadUnaligned<uint>(ref c)), y0, Bits(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref c, 4))), y1,
                                  Bits(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref c, 8))), y2, Bits(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref c, 12))), y3);
        return Avx2.ShiftLeftLogical(set, 1) - offsets;
    }

    /// <summary>1 in byte j where bit j of <paramref name="bits"/> is set, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Bits(uint bits)
    {
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        return Avx2.Min(spread & Vector256.Create(0x8040201008040201UL).AsByte(), Vector256<byte>.One);
    }

    /// <summary>
    /// Σ u·y of four slices in one vector: <c>vpmaddubsw</c> pairs (u ≤ 1: at most 254), two int16 horizontal adds (a
    /// slice half's 16 values sum to at most 2032) and one <c>vpmaddwd</c> with ones. Lane k of each 128-bit half is
    /// slice k over that half's values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pack(Vector256<byte> u0, Vector256<sbyte> y0, Vector256<byte> u1, Vector256<sbyte> y1,
                                       Vector256<byte> u2, Vector256<sbyte> y2, Vector256<byte> u3, Vector256<sbyte> y3)
    {
        Vector256<short> p01 = Avx2.HorizontalAdd(Avx2.MultiplyAddAdjacent(u0, y0), Avx2.MultiplyAddAdjacent(u1, y1));
        Vector256<short> p23 = Avx2.HorizontalAdd(Avx2.MultiplyAddAdjacent(u2, y2), Avx2.MultiplyAddAdjacent(u3, y3));
        return Avx2.MultiplyAddAdjacent(Avx2.HorizontalAdd(p01, p23), Vector256.Create((short)1));
    }
}
