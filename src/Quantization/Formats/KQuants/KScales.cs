using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>
/// The 12-byte packing of eight 6-bit scales and eight 6-bit mins shared by Q4_K and Q5_K (<c>get_scale_min_k4</c>):
/// bytes 0–3 hold sc0..3 and bytes 4–7 m0..3 in bits 0–5, their bits 6–7 the high two bits of sc4..7 / m4..7;
/// bytes 8–11 hold the low four bits of sc4..7 (low nibble) and m4..7 (high nibble).
/// </summary>
internal static class KScales
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Get(int j, ReadOnlySpan<byte> q, out int sc, out int m)
    {
        if (j < 4)
        {
            sc = q[j] & 63;
            m = q[j + 4] & 63;
        }
        else
        {
            sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>
    /// Stores sub-block j's codes; call for j = 0..7 in order (j ≥ 4 ORs into the bytes j &lt; 4 wrote). As in ggml,
    /// j &lt; 4 writes ls and lm whole: a code above 63 spills into bits 6–7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(int j, Span<byte> q, byte ls, byte lm)
    {
        if (j < 4)
        {
            q[j] = ls;
            q[j + 4] = lm;
        }
        else
        {
            q[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
            q[j - 4] |= (byte)((ls >> 4) << 6);
            q[j] |= (byte)((lm >> 4) << 6);
        }
    }

    /// <summary>
    /// All sixteen codes at once, as the dot kernels need them: bytes 0–7 are sc0..7 and bytes 8–15 m0..7 (the same
    /// values <see cref="Get"/> returns), from three 32-bit words with masks instead of per-j branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Unpack(ref readonly Bytes12 packed)
    {
        ref byte p = ref Unsafe.As<Bytes12, byte>(ref Unsafe.AsRef(in packed));
        uint w0 = Unsafe.ReadUnaligned<uint>(ref p);
        uint w1 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 4));
        uint w2 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 8));
        uint sc03 = w0 & 0x3F3F3F3F;
        uint sc47 = (w2 & 0x0F0F0F0F) | (((w0 >> 6) & 0x03030303) << 4);
        uint m03 = w1 & 0x3F3F3F3F;
        uint m47 = ((w2 >> 4) & 0x0F0F0F0F) | (((w1 >> 6) & 0x03030303) << 4);
        return Vector128.Create(sc03 | ((ulong)sc47 << 32), m03 | ((ulong)m47 << 32)).AsByte();
    }

    /// <summary>
    /// <see cref="Unpack"/> in vector registers (AVX2): <paramref name="packed"/> points at the 12 scale bytes and 4
    /// more readable bytes. Words [w0, w2, w1, w2] give the low parts (w2 shifted by 4 in the last lane), words
    /// [w0, w0, w1, w1] shifted by 2 give the high two bits of sc4..7 / m4..7 at bits 4–5 of each byte.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<byte> UnpackAvx2(byte* packed)
    {
        Vector128<uint> w = Sse2.LoadVector128((uint*)packed);
        Vector128<uint> low = Avx2.ShiftRightLogicalVariable(Sse2.Shuffle(w, 0b10_01_10_00), Vector128.Create(0u, 0, 0, 4))
                              & Vector128.Create(0x3F3F3F3Fu, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F);
        Vector128<uint> high = Sse2.ShiftRightLogical(Sse2.Shuffle(w, 0b01_01_00_00), 2) & Vector128.Create(0u, 0x30303030, 0, 0x30303030);
        return (low | high).AsByte();
    }
}
