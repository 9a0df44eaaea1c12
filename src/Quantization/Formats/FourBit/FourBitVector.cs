using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Formats;

/// <summary>
/// Vector paths of the 4-bit code books, equal bit for bit to <see cref="FourBitReference{TCode}"/>. Quantize: the level
/// of s = x·(1/absmax) is the number of thresholds below it (<see cref="FourBitTables{TCode}"/>: strict &gt;, which is
/// the reference's tie rule), found by a branch-free binary search over a permuted threshold table (AVX-512, AVX2) or by
/// counting 15 compares (Vector128 / AdvSimd), then mapped to a code by a byte shuffle for FP4. Dequantize: a 16-entry float lookup
/// (AVX-512 PermuteVar16x32, AVX2 two PermuteVar8x32, otherwise a byte shuffle per float byte, TBL on arm64) times absmax.
/// </summary>
internal static class FourBitVector<TCode> where TCode : IFourBitCode
{
    private static readonly bool s_sorted = FourBitTables<TCode>.LevelCode.AsSpan().SequenceEqual(
        (ReadOnlySpan<byte>)[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

    /// <summary>The 16 values split into 4 byte planes (plane k = byte k of each float), for byte-shuffle lookups.</summary>
    private static readonly byte[] s_planes = BuildPlanes();

    private static byte[] BuildPlanes()
    {
        var planes = new byte[64];
        for (int c = 0; c < 16; c++)
        {
            int bits = BitConverter.SingleToInt32Bits(TCode.Values[c]);
            for (int k = 0; k < 4; k++)
            {
                planes[k * 16 + c] = (byte)(bits >> (8 * k));
            }
        }

        return planes;
    }

    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    /// <summary>As <see cref="FourBitReference{TCode}.QuantizeBlock"/>.</summary>
    public static float QuantizeBlock(ReadOnlySpan<float> x, Span<byte> packed)
    {
        float absmax = MaxAbs(x);
        float id = absmax != 0 ? 1.0f / absmax : 0.0f;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref byte qr = ref MemoryMarshal.GetReference(packed);
        int i = 0;
        for (; i + 32 <= x.Length; i += 32)
        {
            Vector128<byte> a = Codes16(ref Unsafe.Add(ref xr, i), id);
            Vector128<byte> b = Codes16(ref Unsafe.Add(ref xr, i + 16), id);
            Vector128.Narrow(PairNibbles(a), PairNibbles(b)).StoreUnsafe(ref qr, (nuint)(i / 2));
        }

        if (i < x.Length)
        {
            // A partial last block of a bitsandbytes tensor: the reference rule, with this block's scale.
            byte pad = FourBitTables<TCode>.ZeroCode;
            for (; i < x.Length; i += 2)
            {
                byte hi = FourBitReference<TCode>.Nearest(Math.Clamp(x[i] * id, -1f, 1f));
                byte lo = i + 1 < x.Length ? FourBitReference<TCode>.Nearest(Math.Clamp(x[i + 1] * id, -1f, 1f)) : pad;
                packed[i / 2] = (byte)((hi << 4) | lo);
            }
        }

        return absmax;
    }

    /// <summary>As <see cref="FourBitReference{TCode}.DequantizeBlock"/>.</summary>
    public static void DequantizeBlock(ReadOnlySpan<byte> packed, float absmax, Span<float> y)
    {
        ref byte qr = ref MemoryMarshal.GetReference(packed);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int i = 0;
        for (; i + 32 <= y.Length; i += 32)
        {
            Vector128<byte> b = Vector128.LoadUnsafe(ref qr, (nuint)(i / 2));
            Lookup16(ElementCodes(Vector128.WidenLower(b)), absmax, ref Unsafe.Add(ref yr, i));
            Lookup16(ElementCodes(Vector128.WidenUpper(b)), absmax, ref Unsafe.Add(ref yr, i + 16));
        }

        if (i < y.Length)
        {
            FourBitReference<TCode>.DequantizeBlock(packed[(i / 2)..], absmax, y[i..]);
        }
    }

    private static float MaxAbs(ReadOnlySpan<float> x)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        int i = 0;
        float max = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            Vector256<float> m = Vector256<float>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                m = Vector256.Max(m, Vector256.Abs(Vector256.LoadUnsafe(ref xr, (nuint)i)));
            }

            Vector128<float> h = Vector128.Max(m.GetLower(), m.GetUpper());
            max = MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
        }
        else if (Vector128.IsHardwareAccelerated && x.Length >= 4)
        {
            Vector128<float> m = Vector128<float>.Zero;
            for (; i + 4 <= x.Length; i += 4)
            {
                m = Vector128.Max(m, Vector128.Abs(Vector128.LoadUnsafe(ref xr, (nuint)i)));
            }

            max = MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
        }

        for (; i < x.Length; i++)
        {
            max = MathF.Max(max, MathF.Abs(Unsafe.Add(ref xr, i)));
        }

        return max;
    }

    /// <summary>The codes of 16 consecutive values, one per byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Codes16(ref float x, float id)
    {
        ref float t = ref MemoryMarshal.GetArrayDataReference(FourBitTables<TCode>.Thresholds);
        Vector128<byte> levels;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            // Branch-free binary search over the 16-entry threshold table: 4 permutes instead of 15 compares.
            Vector512<float> s = Vector512.LoadUnsafe(ref x) * Vector512.Create(id);
            Vector512<float> table = Vector512.LoadUnsafe(ref t);
            Vector512<int> n = Vector512<int>.Zero;
            n = Step512(s, table, n, 8);
            n = Step512(s, table, n, 4);
            n = Step512(s, table, n, 2);
            n = Step512(s, table, n, 1);

            n = s_sorted ? n : n | (~Vector512.Equals(s, s).AsInt32() & Vector512.Create(0x80));
            levels = Avx512F.ConvertToVector128Byte(n);
        }
        else if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            Vector256<float> lo = Vector256.LoadUnsafe(ref t), hi = Vector256.LoadUnsafe(ref t, 8);
            Vector256<int> n0 = Search8(Vector256.LoadUnsafe(ref x) * Vector256.Create(id), lo, hi);
            Vector256<int> n1 = Search8(Vector256.LoadUnsafe(ref x, 8) * Vector256.Create(id), lo, hi);
            Vector256<short> n = Vector256.Narrow(n0, n1);
            levels = Vector256.Narrow(n, n).GetLower().AsByte();
        }
        else
        {
            Vector128<short> n01 = Vector128.Narrow(Levels4(ref x, 0, id, ref t), Levels4(ref x, 4, id, ref t));
            Vector128<short> n23 = Vector128.Narrow(Levels4(ref x, 8, id, ref t), Levels4(ref x, 12, id, ref t));
            levels = Vector128.Narrow(n01, n23).AsByte();
        }

        // Level → code (FP4); a NaN lane carries 0x80, which the shuffle turns into code 0, as the reference gives.
        // (NF4 needs no mark: a NaN is above no threshold, level 0, which is NF4's code 0.)
        return s_sorted ? levels & Vector128.Create((byte)0x0F)
                        : Vector128.Shuffle(Vector128.Create(FourBitTables<TCode>.LevelCode), levels);
    }

    /// <summary>The level of 8 values: a branch-free binary search, the 16 thresholds in two 8-entry halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Search8(Vector256<float> s, Vector256<float> lo, Vector256<float> hi)
    {
        Vector256<int> n = Vector256<int>.Zero;
        n = Step256(s, lo, hi, n, 8);
        n = Step256(s, lo, hi, n, 4);
        n = Step256(s, lo, hi, n, 2);
        n = Step256(s, lo, hi, n, 1);
        return s_sorted ? n : n | (~Vector256.Equals(s, s).AsInt32() & Vector256.Create(0x80));
    }

    /// <summary>One step of the search: n + step where s is above threshold n + step − 1 (written out so the JIT folds the constants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Step512(Vector512<float> s, Vector512<float> table, Vector512<int> n, int step)
    {
        Vector512<float> th = Avx512F.PermuteVar16x32(table, n + Vector512.Create(step - 1));
        return Vector512.ConditionalSelect(Vector512.GreaterThan(s, th).AsInt32(), n + Vector512.Create(step), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Step256(Vector256<float> s, Vector256<float> lo, Vector256<float> hi, Vector256<int> n, int step)
    {
        Vector256<int> i = n + Vector256.Create(step - 1);
        // PermuteVar8x32 reads the low 3 bits; bit 3 (moved to the sign) picks the upper half.
        Vector256<float> th = Avx.BlendVariable(Avx2.PermuteVar8x32(lo, i), Avx2.PermuteVar8x32(hi, i), (i << 28).AsSingle());
        return Vector256.ConditionalSelect(Vector256.GreaterThan(s, th).AsInt32(), n + Vector256.Create(step), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Levels4(ref float x, nuint offset, float id, ref float t)
    {
        Vector128<float> s = Vector128.LoadUnsafe(ref x, offset) * Vector128.Create(id);
        Vector128<int> n = Vector128<int>.Zero;
        for (int k = 0; k < 15; k++)
        {
            n -= Vector128.GreaterThan(s, Vector128.Create(Unsafe.Add(ref t, k))).AsInt32();
        }

        return s_sorted ? n : n | (~Vector128.Equals(s, s).AsInt32() & Vector128.Create(0x80));
    }

    /// <summary>Codes c0..c15 → (c[2i] &lt;&lt; 4) | c[2i+1] in the low byte of each 16-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> PairNibbles(Vector128<byte> codes)
    {
        Vector128<ushort> u = codes.AsUInt16();
        return (u << 4) | (u >> 8);
    }

    /// <summary>8 packed bytes (widened to 16 bits) → their 16 codes in element order: high nibble, then low.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ElementCodes(Vector128<ushort> w) =>
        ((w >> 4) | ((w & Vector128.Create((ushort)0x0F)) << 8)).AsByte();

    /// <summary>y[j] = value[codes[j]] · absmax for 16 codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lookup16(Vector128<byte> codes, float absmax, ref float y)
    {
        ReadOnlySpan<float> values = TCode.Values;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            Vector512<float> table = Vector512.Create(values);
            Vector512<int> idx = Avx512F.ConvertToVector512Int32(codes);
            (Avx512F.PermuteVar16x32(table, idx) * Vector512.Create(absmax)).StoreUnsafe(ref y);
        }
        else if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            Vector256<float> lo = Vector256.Create(values), hi = Vector256.Create(values[8..]);
            Vector256<int> i0 = Avx2.ConvertToVector256Int32(codes);
            Vector256<int> i1 = Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8));
            // PermuteVar8x32 reads the low 3 bits; bit 3 (moved to the sign) picks the upper half of the table.
            Vector256<float> v0 = Avx.BlendVariable(Avx2.PermuteVar8x32(lo, i0), Avx2.PermuteVar8x32(hi, i0), (i0 << 28).AsSingle());
            Vector256<float> v1 = Avx.BlendVariable(Avx2.PermuteVar8x32(lo, i1), Avx2.PermuteVar8x32(hi, i1), (i1 << 28).AsSingle());
            Vector256<float> scale = Vector256.Create(absmax);
            (v0 * scale).StoreUnsafe(ref y);
            (v1 * scale).StoreUnsafe(ref y, 8);
        }
        else
        {
            ref byte planes = ref MemoryMarshal.GetArrayDataReference(s_planes);
            Vector128<byte> p0 = Vector128.Shuffle(Vector128.LoadUnsafe(ref planes), codes);
            Vector128<byte> p1 = Vector128.Shuffle(Vector128.LoadUnsafe(ref planes, 16), codes);
            Vector128<byte> p2 = Vector128.Shuffle(Vector128.LoadUnsafe(ref planes, 32), codes);
            Vector128<byte> p3 = Vector128.Shuffle(Vector128.LoadUnsafe(ref planes, 48), codes);
            Vector128<ushort> b01Lo = Vector128.WidenLower(p0) | (Vector128.WidenLower(p1) << 8);
            Vector128<ushort> b01Hi = Vector128.WidenUpper(p0) | (Vector128.WidenUpper(p1) << 8);
            Vector128<ushort> b23Lo = Vector128.WidenLower(p2) | (Vector128.WidenLower(p3) << 8);
            Vector128<ushort> b23Hi = Vector128.WidenUpper(p2) | (Vector128.WidenUpper(p3) << 8);
            Vector128<float> scale = Vector128.Create(absmax);
            (Bits(b01Lo, b23Lo, lower: true) * scale).StoreUnsafe(ref y);
            (Bits(b01Lo, b23Lo, lower: false) * scale).StoreUnsafe(ref y, 4);
            (Bits(b01Hi, b23Hi, lower: true) * scale).StoreUnsafe(ref y, 8);
            (Bits(b01Hi, b23Hi, lower: false) * scale).StoreUnsafe(ref y, 12);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Bits(Vector128<ushort> low16, Vector128<ushort> high16, bool lower) =>
        lower ? (Vector128.WidenLower(low16) | (Vector128.WidenLower(high16) << 16)).AsSingle()
              : (Vector128.WidenUpper(low16) | (Vector128.WidenUpper(high16) << 16)).AsSingle();
}
