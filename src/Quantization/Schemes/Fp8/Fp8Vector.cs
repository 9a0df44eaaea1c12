using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization.Schemes;

/// <summary>
/// Vector FP8 conversions over spans (Vector512, Vector256, Vector128 — SSE and AdvSimd — then the scalar reference for
/// the tail). Each lane repeats <see cref="Fp8Reference"/>'s steps with integer operations on the float32 bits, so every
/// width gives the reference's bytes and floats bit for bit (docs/formats.md#fp8-e4m3fn-and-e5m2).
/// </summary>
internal static class Fp8Vector
{
    /// <summary>Encodes <paramref name="source"/> into <paramref name="destination"/> (same length, checked by the caller).</summary>
    public static void Encode<T>(ReadOnlySpan<float> source, Span<byte> destination, bool saturate)
        where T : struct, IFp8Encoding
    {
        ref float x = ref MemoryMarshal.GetReference(source);
        ref byte d = ref MemoryMarshal.GetReference(destination);
        int n = source.Length;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 64; i += 64)
            {
                Vector512<int> c0 = EncodeLanes<T>(Vector512.LoadUnsafe(ref x, (nuint)i).AsInt32(), saturate);
                Vector512<int> c1 = EncodeLanes<T>(Vector512.LoadUnsafe(ref x, (nuint)i + 16).AsInt32(), saturate);
                Vector512<int> c2 = EncodeLanes<T>(Vector512.LoadUnsafe(ref x, (nuint)i + 32).AsInt32(), saturate);
                Vector512<int> c3 = EncodeLanes<T>(Vector512.LoadUnsafe(ref x, (nuint)i + 48).AsInt32(), saturate);
                Vector512.Narrow(Vector512.Narrow(c0, c1).AsUInt16(), Vector512.Narrow(c2, c3).AsUInt16()).StoreUnsafe(ref d, (nuint)i);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                Vector256<int> c0 = EncodeLanes<T>(Vector256.LoadUnsafe(ref x, (nuint)i).AsInt32(), saturate);
                Vector256<int> c1 = EncodeLanes<T>(Vector256.LoadUnsafe(ref x, (nuint)i + 8).AsInt32(), saturate);
                Vector256<int> c2 = EncodeLanes<T>(Vector256.LoadUnsafe(ref x, (nuint)i + 16).AsInt32(), saturate);
                Vector256<int> c3 = EncodeLanes<T>(Vector256.LoadUnsafe(ref x, (nuint)i + 24).AsInt32(), saturate);
                Vector256.Narrow(Vector256.Narrow(c0, c1).AsUInt16(), Vector256.Narrow(c2, c3).AsUInt16()).StoreUnsafe(ref d, (nuint)i);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                Vector128<int> c0 = EncodeLanes<T>(Vector128.LoadUnsafe(ref x, (nuint)i).AsInt32(), saturate);
                Vector128<int> c1 = EncodeLanes<T>(Vector128.LoadUnsafe(ref x, (nuint)i + 4).AsInt32(), saturate);
                Vector128<int> c2 = EncodeLanes<T>(Vector128.LoadUnsafe(ref x, (nuint)i + 8).AsInt32(), saturate);
                Vector128<int> c3 = EncodeLanes<T>(Vector128.LoadUnsafe(ref x, (nuint)i + 12).AsInt32(), saturate);
                Vector128.Narrow(Vector128.Narrow(c0, c1).AsUInt16(), Vector128.Narrow(c2, c3).AsUInt16()).StoreUnsafe(ref d, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref d, i) = Fp8Reference.Encode<T>(Unsafe.Add(ref x, i), saturate);
        }
    }

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/> (same length, checked by the caller).</summary>
    public static void Decode<T>(ReadOnlySpan<byte> source, Span<float> destination)
        where T : struct, IFp8Encoding
    {
        ref byte s = ref MemoryMarshal.GetReference(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        int n = source.Length;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 64; i += 64)
            {
                (Vector512<ushort> lo, Vector512<ushort> hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
                (Vector512<uint> a, Vector512<uint> b) = Vector512.Widen(lo);
                (Vector512<uint> c, Vector512<uint> e) = Vector512.Widen(hi);
                DecodeLanes<T>(a.AsInt32()).StoreUnsafe(ref d, (nuint)i);
                DecodeLanes<T>(b.AsInt32()).StoreUnsafe(ref d, (nuint)i + 16);
                DecodeLanes<T>(c.AsInt32()).StoreUnsafe(ref d, (nuint)i + 32);
                DecodeLanes<T>(e.AsInt32()).StoreUnsafe(ref d, (nuint)i + 48);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                (Vector256<ushort> lo, Vector256<ushort> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                (Vector256<uint> a, Vector256<uint> b) = Vector256.Widen(lo);
                (Vector256<uint> c, Vector256<uint> e) = Vector256.Widen(hi);
                DecodeLanes<T>(a.AsInt32()).StoreUnsafe(ref d, (nuint)i);
                DecodeLanes<T>(b.AsInt32()).StoreUnsafe(ref d, (nuint)i + 8);
                DecodeLanes<T>(c.AsInt32()).StoreUnsafe(ref d, (nuint)i + 16);
                DecodeLanes<T>(e.AsInt32()).StoreUnsafe(ref d, (nuint)i + 24);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(Vector128.LoadUnsafe(ref s, (nuint)i));
                (Vector128<uint> a, Vector128<uint> b) = Vector128.Widen(lo);
                (Vector128<uint> c, Vector128<uint> e) = Vector128.Widen(hi);
                DecodeLanes<T>(a.AsInt32()).StoreUnsafe(ref d, (nuint)i);
                DecodeLanes<T>(b.AsInt32()).StoreUnsafe(ref d, (nuint)i + 4);
                DecodeLanes<T>(c.AsInt32()).StoreUnsafe(ref d, (nuint)i + 8);
                DecodeLanes<T>(e.AsInt32()).StoreUnsafe(ref d, (nuint)i + 12);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref d, i) = Fp8Reference.Decode<T>(Unsafe.Add(ref s, i));
        }
    }

    // The lane functions: float32 bits in, FP8 codes (0 … 255) out, and back. The subnormal range rounds in the float
    // adder (magnitude + 2^(24 − bias − m), whose spacing is the subnormal step); the normal range on the bits, as the
    // reference does.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> EncodeLanes<T>(Vector512<int> bits, bool saturate)
        where T : struct, IFp8Encoding
    {
        int shift = Fp8Constants<T>.Shift;
        Vector512<int> sign = (bits >>> 24) & Vector512.Create(0x80);
        Vector512<int> abs = bits & Vector512.Create(0x7FFFFFFF);
        Vector512<float> magic = Vector512.Create(BitConverter.Int32BitsToSingle(Fp8Constants<T>.SubnormalMagicBits));
        Vector512<int> sub = (abs.AsSingle() + magic).AsInt32() - magic.AsInt32();
        Vector512<int> rounded = abs + Vector512.Create((1 << (shift - 1)) - 1) + ((abs >> shift) & Vector512<int>.One);
        Vector512<int> normal = (rounded - Vector512.Create(Fp8Constants<T>.Rebias)) >> shift;
        Vector512<int> code = Vector512.ConditionalSelect(Vector512.LessThan(abs, Vector512.Create(Fp8Constants<T>.MinNormalBits)), sub, normal);
        Vector512<int> overflow = Vector512.Create(saturate ? T.MaxFiniteCode : Fp8Constants<T>.OverflowCode);
        code = Vector512.ConditionalSelect(Vector512.GreaterThan(code, Vector512.Create(T.MaxFiniteCode)), overflow, code);
        code = Vector512.ConditionalSelect(Vector512.GreaterThan(abs, Vector512.Create(0x7F800000)), Vector512.Create(Fp8Constants<T>.NaNCode), code);
        return code | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> EncodeLanes<T>(Vector256<int> bits, bool saturate)
        where T : struct, IFp8Encoding
    {
        int shift = Fp8Constants<T>.Shift;
        Vector256<int> sign = (bits >>> 24) & Vector256.Create(0x80);
        Vector256<int> abs = bits & Vector256.Create(0x7FFFFFFF);
        Vector256<float> magic = Vector256.Create(BitConverter.Int32BitsToSingle(Fp8Constants<T>.SubnormalMagicBits));
        Vector256<int> sub = (abs.AsSingle() + magic).AsInt32() - magic.AsInt32();
        Vector256<int> rounded = abs + Vector256.Create((1 << (shift - 1)) - 1) + ((abs >> shift) & Vector256<int>.One);
        Vector256<int> normal = (rounded - Vector256.Create(Fp8Constants<T>.Rebias)) >> shift;
        Vector256<int> code = Vector256.ConditionalSelect(Vector256.LessThan(abs, Vector256.Create(Fp8Constants<T>.MinNormalBits)), sub, normal);
        Vector256<int> overflow = Vector256.Create(saturate ? T.MaxFiniteCode : Fp8Constants<T>.OverflowCode);
        code = Vector256.ConditionalSelect(Vector256.GreaterThan(code, Vector256.Create(T.MaxFiniteCode)), overflow, code);
        code = Vector256.ConditionalSelect(Vector256.GreaterThan(abs, Vector256.Create(0x7F800000)), Vector256.Create(Fp8Constants<T>.NaNCode), code);
        return code | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> EncodeLanes<T>(Vector128<int> bits, bool saturate)
        where T : struct, IFp8Encoding
    {
        int shift = Fp8Constants<T>.Shift;
        Vector128<int> sign = (bits >>> 24) & Vector128.Create(0x80);
        Vector128<int> abs = bits & Vector128.Create(0x7FFFFFFF);
        Vector128<float> magic = Vector128.Create(BitConverter.Int32BitsToSingle(Fp8Constants<T>.SubnormalMagicBits));
        Vector128<int> sub = (abs.AsSingle() + magic).AsInt32() - magic.AsInt32();
        Vector128<int> rounded = abs + Vector128.Create((1 << (shift - 1)) - 1) + ((abs >> shift) & Vector128<int>.One);
        Vector128<int> normal = (rounded - Vector128.Create(Fp8Constants<T>.Rebias)) >> shift;
        Vector128<int> code = Vector128.ConditionalSelect(Vector128.LessThan(abs, Vector128.Create(Fp8Constants<T>.MinNormalBits)), sub, normal);
        Vector128<int> overflow = Vector128.Create(saturate ? T.MaxFiniteCode : Fp8Constants<T>.OverflowCode);
        code = Vector128.ConditionalSelect(Vector128.GreaterThan(code, Vector128.Create(T.MaxFiniteCode)), overflow, code);
        code = Vector128.ConditionalSelect(Vector128.GreaterThan(abs, Vector128.Create(0x7F800000)), Vector128.Create(Fp8Constants<T>.NaNCode), code);
        return code | sign;
    }

    /// <summary>
    /// Codes (0 … 255 per lane) to floats: normal codes by moving the fields into float32 position and re-biasing; the
    /// subnormal codes (exponent field 0) as mantissa · 2^(1 − bias − m), converted from the integer; the all-ones
    /// exponent to NaN (and ±∞ for E5M2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> DecodeLanes<T>(Vector512<int> codes)
        where T : struct, IFp8Encoding
    {
        int m = T.MantissaBits;
        Vector512<int> magnitude = codes & Vector512.Create(0x7F);
        Vector512<int> normal = (magnitude << Fp8Constants<T>.Shift) + Vector512.Create(Fp8Constants<T>.Rebias);
        Vector512<int> sub = (Vector512.ConvertToSingle(magnitude) * Vector512.Create(BitConverter.Int32BitsToSingle((127 + 1 - T.Bias - m) << 23))).AsInt32();
        Vector512<int> value = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(1 << m)), sub, normal);
        Vector512<int> special = T.HasInfinity
            ? Vector512.ConditionalSelect(Vector512.Equals(magnitude, Vector512.Create(0x7C)), Vector512.Create(0x7F800000), Vector512.Create(Fp8Constants<T>.DecodedNaNBits))
            : Vector512.Create(Fp8Constants<T>.DecodedNaNBits);
        int firstSpecial = T.HasInfinity ? 0x7C : 0x7F;
        value = Vector512.ConditionalSelect(Vector512.GreaterThan(magnitude, Vector512.Create(firstSpecial - 1)), special, value);
        return (value | ((codes & Vector512.Create(0x80)) << 24)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> DecodeLanes<T>(Vector256<int> codes)
        where T : struct, IFp8Encoding
    {
        int m = T.MantissaBits;
        Vector256<int> magnitude = codes & Vector256.Create(0x7F);
        Vector256<int> normal = (magnitude << Fp8Constants<T>.Shift) + Vector256.Create(Fp8Constants<T>.Rebias);
        Vector256<int> sub = (Vector256.ConvertToSingle(magnitude) * Vector256.Create(BitConverter.Int32BitsToSingle((127 + 1 - T.Bias - m) << 23))).AsInt32();
        Vector256<int> value = Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(1 << m)), sub, normal);
        Vector256<int> special = T.HasInfinity
            ? Vector256.ConditionalSelect(Vector256.Equals(magnitude, Vector256.Create(0x7C)), Vector256.Create(0x7F800000), Vector256.Create(Fp8Constants<T>.DecodedNaNBits))
            : Vector256.Create(Fp8Constants<T>.DecodedNaNBits);
        int firstSpecial = T.HasInfinity ? 0x7C : 0x7F;
        value = Vector256.ConditionalSelect(Vector256.GreaterThan(magnitude, Vector256.Create(firstSpecial - 1)), special, value);
        return (value | ((codes & Vector256.Create(0x80)) << 24)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> DecodeLanes<T>(Vector128<int> codes)
        where T : struct, IFp8Encoding
    {
        int m = T.MantissaBits;
        Vector128<int> magnitude = codes & Vector128.Create(0x7F);
        Vector128<int> normal = (magnitude << Fp8Constants<T>.Shift) + Vector128.Create(Fp8Constants<T>.Rebias);
        Vector128<int> sub = (Vector128.ConvertToSingle(magnitude) * Vector128.Create(BitConverter.Int32BitsToSingle((127 + 1 - T.Bias - m) << 23))).AsInt32();
        Vector128<int> value = Vector128.ConditionalSelect(Vector128.LessThan(magnitude, Vector128.Create(1 << m)), sub, normal);
        Vector128<int> special = T.HasInfinity
            ? Vector128.ConditionalSelect(Vector128.Equals(magnitude, Vector128.Create(0x7C)), Vector128.Create(0x7F800000), Vector128.Create(Fp8Constants<T>.DecodedNaNBits))
            : Vector128.Create(Fp8Constants<T>.DecodedNaNBits);
        int firstSpecial = T.HasInfinity ? 0x7C : 0x7F;
        value = Vector128.ConditionalSelect(Vector128.GreaterThan(magnitude, Vector128.Create(firstSpecial - 1)), special, value);
        return (value | ((codes & Vector128.Create(0x80)) << 24)).AsSingle();
    }
}
