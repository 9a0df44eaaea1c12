using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>
/// The integer steps of the IQ3_XXS and IQ3_S dots with Q8_K, per 32-value sub-block: unsigned grid magnitudes
/// (≤ 62) times the Q8_K codes with the weights' signs moved onto them, exact in int16 pairs and int32 sums.
/// </summary>
internal static class Iq3DotSteps
{
    /// <summary>
    /// The 32 codes at <paramref name="q8"/> negated where the weight is negative: byte b of <paramref name="signs"/>
    /// holds the sign bits of values 8b..8b+7. vpsignb with ±1 (exact: Q8_K codes are never −128).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<sbyte> Signed256(uint signs, sbyte* q8) =>
        Avx2.Sign(Avx.LoadVector256(q8), (NegativeMask256(signs) | Vector256.Create((byte)1)).AsSByte());

    /// <summary>0xFF in byte e where bit e%8 of byte e/8 of <paramref name="signs"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> NegativeMask256(uint signs)
    {
        Vector256<byte> spread = Vector256.Create(
            Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
            Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector256<byte> bits = Vector256.Create(0x8040_2010_0804_0201UL).AsByte();
        return Avx2.CompareEqual(Avx2.Shuffle(Vector256.Create(signs).AsByte(), spread) & bits, bits);
    }

    /// <summary>The AVX-512 form of <see cref="Signed256"/> for two sub-blocks (no vpsignb: a select of −q8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<sbyte> Signed512(uint signs0, uint signs1, sbyte* q8)
    {
        Vector512<sbyte> a = Avx512BW.LoadVector512(q8);
        Vector512<sbyte> negative = Vector512.Create(NegativeMask256(signs0), NegativeMask256(signs1)).AsSByte();
        return Vector512.ConditionalSelect(negative, -a, a);
    }

    /// <summary>
    /// The SSSE3/SSE4.1 form of one sub-block: (2s + 1)·Σ ±magnitude·q8 as int32 lanes, magnitudes of values 0..15 in
    /// <paramref name="m0"/> and 16..31 in <paramref name="m1"/>, signs as in <see cref="Signed256"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<int> SubBlock128(Vector128<byte> m0, Vector128<byte> m1, uint signs, sbyte* q8, Vector128<short> scale)
    {
        Vector128<byte> bits = Vector128.Create(0x8040_2010_0804_0201UL).AsByte();
        Vector128<byte> one = Vector128.Create((byte)1);
        Vector128<byte> all = Vector128.Create(signs).AsByte();
        Vector128<byte> n0 = Sse2.CompareEqual(Ssse3.Shuffle(all, Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)) & bits, bits);
        Vector128<byte> n1 = Sse2.CompareEqual(Ssse3.Shuffle(all, Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)) & bits, bits);
        Vector128<sbyte> a0 = Ssse3.Sign(Sse2.LoadVector128(q8), (n0 | one).AsSByte());
        Vector128<sbyte> a1 = Ssse3.Sign(Sse2.LoadVector128(q8 + 16), (n1 | one).AsSByte());
        return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(m0, a0), scale) + Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(m1, a1), scale);
    }

    /// <summary>
    /// Σ ±magnitude·q8 over one sub-block on AdvSimd: magnitudes of values 0..15 in <paramref name="m0"/>, 16..31 in
    /// <paramref name="m1"/>, signs as in <see cref="Signed256"/>; the signs go onto the magnitudes (≤ 62, so still int8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SubBlockNeon(Vector128<byte> m0, Vector128<byte> m1, uint signs, ref readonly sbyte q8)
    {
        Vector128<byte> bits = Vector128.Create(0x8040_2010_0804_0201UL).AsByte();
        Vector128<byte> n0 = Vector128.Equals(Vector128.Create((signs & 0xFF) * 0x0101_0101_0101_0101UL, ((signs >> 8) & 0xFF) * 0x0101_0101_0101_0101UL).AsByte() & bits, bits);
        Vector128<byte> n1 = Vector128.Equals(Vector128.Create(((signs >> 16) & 0xFF) * 0x0101_0101_0101_0101UL, (signs >> 24) * 0x0101_0101_0101_0101UL).AsByte() & bits, bits);
        Vector128<sbyte> w0 = ((m0 ^ n0) - n0).AsSByte();
        Vector128<sbyte> w1 = ((m1 ^ n1) - n1).AsSByte();
        return KDot.Dot32(w0, Vector128.LoadUnsafe(in q8), w1, Vector128.LoadUnsafe(in q8, 16));
    }
}
