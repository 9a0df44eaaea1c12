using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using CommunityToolkit.HighPerformance.Buffers;

namespace Quantization.Schemes;

/// <summary>
/// The fast quantize and dequantize of the schemes: the statistics, divisions, roundings and conversions of
/// <see cref="SchemeReference"/> on whole groups with vector operations, which give the reference's bytes and floats on
/// every instruction set (each step is one correctly rounded IEEE operation, no fused multiply-add).
/// </summary>
internal static class SchemeKernel
{
    /// <summary>Quantizes rows × columns values; a value that is not finite is an <see cref="ArgumentException"/> for "source", thrown before anything is written.</summary>
    public static void Quantize(in SchemeLayout layout, ReadOnlySpan<float> x, Span<byte> destination)
    {
        QuantScheme scheme = layout.Scheme;
        int scales = checked((int)layout.ScaleCount);
        using SpanOwner<float> lowOwner = SpanOwner<float>.Allocate(scales);
        using SpanOwner<float> highOwner = SpanOwner<float>.Allocate(scales);
        Span<float> low = lowOwner.Span;
        Span<float> high = highOwner.Span;
        low.Clear();
        high.Clear();
        for (int r = 0; r < layout.Rows; r++)
        {
            for (int g = 0; g < layout.GroupsPerRow; g++)
            {
                int start = g * layout.GroupLength;
                ReadOnlySpan<float> group = x.Slice(r * layout.Columns + start, Math.Min(layout.GroupLength, layout.Columns - start));
                int s = (int)layout.ScaleIndex(r, g);
                if (scheme.Symmetric)
                {
                    low[s] = MathF.Max(low[s], MathF.Abs(TensorPrimitives.MaxMagnitude(group)));
                }
                else
                {
                    low[s] = MathF.Min(low[s], TensorPrimitives.Min(group));
                    high[s] = MathF.Max(high[s], TensorPrimitives.Max(group));
                }
            }
        }

        // A NaN or infinity anywhere shows in its group's statistics (min, max and max magnitude propagate NaN), so the
        // statistics pass is also the check that every value is finite: nothing is written before it.
        if (!TensorPrimitives.IsFiniteAll<float>(low) || !TensorPrimitives.IsFiniteAll<float>(high))
        {
            Kernels.FiniteCheck.ThrowIfNotFinite(x, "source");
        }

        SchemeReference.WriteScales(layout, low, high, destination);
        using SpanOwner<float> quotientOwner = SpanOwner<float>.Allocate(layout.GroupLength);
        using SpanOwner<byte> codeOwner = SpanOwner<byte>.Allocate(layout.GroupLength);
        Span<float> quotient = quotientOwner.Span;
        Span<byte> codes = codeOwner.Span;
        int qmax = SchemeReference.SymmetricMax(scheme.Bits);
        for (int r = 0; r < layout.Rows; r++)
        {
            Span<byte> row = destination.Slice(r * layout.RowCodeBytes, layout.RowCodeBytes);
            for (int g = 0; g < layout.GroupsPerRow; g++)
            {
                int start = g * layout.GroupLength;
                int length = Math.Min(layout.GroupLength, layout.Columns - start);
                long s = layout.ScaleIndex(r, g);
                float scale = low[(int)s];
                int zero = (int)high[(int)s];
                ReadOnlySpan<float> group = x.Slice(r * layout.Columns + start, length);
                Span<float> q = quotient[..length];
                Span<byte> c = codes[..length];
                if (scale == 0)
                {
                    c.Fill((byte)zero);
                }
                else if (scheme.Element == SchemeElement.Integer && Vector256.IsHardwareAccelerated)
                {
                    IntegerCodes256(scheme, group, scale, zero, c);
                }
                else
                {
                    TensorPrimitives.Divide(group, scale, q);
                    switch (scheme.Element)
                    {
                        case SchemeElement.Fp8E4M3:
                            Fp8Vector.Encode<E4M3Encoding>(q, c, saturate: true);
                            break;
                        case SchemeElement.Fp8E5M2:
                            Fp8Vector.Encode<E5M2Encoding>(q, c, saturate: true);
                            break;
                        default:
                            TensorPrimitives.Round(q, q); // half to even
                            if (scheme.Symmetric)
                            {
                                TensorPrimitives.Clamp(q, -qmax, qmax, q);
                                TensorPrimitives.Add(q, zero, q);
                            }
                            else
                            {
                                TensorPrimitives.Add(q, zero, q);
                                TensorPrimitives.Clamp(q, 0f, SchemeReference.CodeMax(scheme.Bits), q);
                            }

                            NarrowToBytes(q, c);
                            break;
                    }
                }

                SchemeCodes.Pack(scheme.Bits, c, row, start);
            }
        }
    }

    public static void Dequantize(in SchemeLayout layout, ReadOnlySpan<byte> source, Span<float> destination)
    {
        QuantScheme scheme = layout.Scheme;
        ReadOnlySpan<byte> scaleBytes = source[(int)layout.ScalesOffset..];
        using SpanOwner<byte> codeOwner = SpanOwner<byte>.Allocate(layout.GroupLength);
        Span<byte> codes = codeOwner.Span;
        for (int r = 0; r < layout.Rows; r++)
        {
            ReadOnlySpan<byte> row = source.Slice(r * layout.RowCodeBytes, layout.RowCodeBytes);
            for (int g = 0; g < layout.GroupsPerRow; g++)
            {
                int start = g * layout.GroupLength;
                int length = Math.Min(layout.GroupLength, layout.Columns - start);
                long s = layout.ScaleIndex(r, g);
                float scale = SchemeScales.Read(scheme.ScaleType, scaleBytes, s);
                Span<float> dst = destination.Slice(r * layout.Columns + start, length);
                switch (scheme.Element)
                {
                    case SchemeElement.Fp8E4M3:
                        Fp8Vector.Decode<E4M3Encoding>(row.Slice(start, length), dst);
                        TensorPrimitives.Multiply(dst, scale, dst);
                        break;
                    case SchemeElement.Fp8E5M2:
                        Fp8Vector.Decode<E5M2Encoding>(row.Slice(start, length), dst);
                        TensorPrimitives.Multiply(dst, scale, dst);
                        break;
                    default:
                        ReadOnlySpan<byte> c = UnpackGroup(scheme.Bits, row, start, codes[..length]);
                        DequantizeCodes(c, SchemeReference.ZeroPoint(layout, source, s), scale, dst);
                        break;
                }
            }
        }
    }

    /// <summary>The codes start … start + length of a packed row, one per byte: the row itself for 8 bits, else unpacked into <paramref name="scratch"/>.</summary>
    public static ReadOnlySpan<byte> UnpackGroup(int bits, ReadOnlySpan<byte> row, int start, Span<byte> scratch)
    {
        switch (bits)
        {
            case 8:
                return row.Slice(start, scratch.Length);
            case 4:
                UnpackNibbles(row.Slice(start / 2, (scratch.Length + 1) / 2), scratch);
                return scratch;
            default:
                SchemeCodes.Unpack(bits, row, start, scratch);
                return scratch;
        }
    }

    /// <summary>4-bit codes to one byte each, low nibble first: 32 codes per step where the processor can interleave bytes.</summary>
    private static void UnpackNibbles(ReadOnlySpan<byte> packed, Span<byte> codes)
    {
        ref byte p = ref MemoryMarshal.GetReference(packed);
        ref byte c = ref MemoryMarshal.GetReference(codes);
        int i = 0;
        if (Sse2.IsSupported || AdvSimd.Arm64.IsSupported)
        {
            Vector128<byte> mask = Vector128.Create((byte)0x0F);
            for (; i + 16 <= packed.Length && 2 * i + 32 <= codes.Length; i += 16)
            {
                Vector128<byte> v = Vector128.LoadUnsafe(ref p, (nuint)i);
                Vector128<byte> lo = v & mask;
                Vector128<byte> hi = Vector128.ShiftRightLogical(v, 4);
                Vector128<byte> first = Sse2.IsSupported ? Sse2.UnpackLow(lo, hi) : AdvSimd.Arm64.ZipLow(lo, hi);
                Vector128<byte> second = Sse2.IsSupported ? Sse2.UnpackHigh(lo, hi) : AdvSimd.Arm64.ZipHigh(lo, hi);
                first.StoreUnsafe(ref c, (nuint)(2 * i));
                second.StoreUnsafe(ref c, (nuint)(2 * i + 16));
            }
        }

        for (int k = 2 * i; k < codes.Length; k++)
        {
            int b = Unsafe.Add(ref p, k >> 1);
            Unsafe.Add(ref c, k) = (byte)((k & 1) == 0 ? b & 0x0F : b >> 4);
        }
    }

    /// <summary>dst[i] = (codes[i] − zero) · scale: the difference exact in integers, one float multiplication.</summary>
    public static void DequantizeCodes(ReadOnlySpan<byte> codes, int zero, float scale, Span<float> dst)
    {
        ref byte c = ref MemoryMarshal.GetReference(codes);
        ref float d = ref MemoryMarshal.GetReference(dst);
        int n = codes.Length;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<int> z = Vector512.Create(zero);
            Vector512<float> s = Vector512.Create(scale);
            for (; i <= n - 16; i += 16)
            {
                Vector512<int> v = WidenToInt32x16(ref Unsafe.Add(ref c, i));
                (Vector512.ConvertToSingle(v - z) * s).StoreUnsafe(ref d, (nuint)i);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> z = Vector256.Create(zero);
            Vector256<float> s = Vector256.Create(scale);
            for (; i <= n - 8; i += 8)
            {
                Vector256<int> v = WidenToInt32x8(ref Unsafe.Add(ref c, i));
                (Vector256.ConvertToSingle(v - z) * s).StoreUnsafe(ref d, (nuint)i);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<int> z = Vector128.Create(zero);
            Vector128<float> s = Vector128.Create(scale);
            for (; i <= n - 16; i += 16)
            {
                (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(Vector128.LoadUnsafe(ref c, (nuint)i));
                (Vector128<uint> a, Vector128<uint> b) = Vector128.Widen(lo);
                (Vector128<uint> e, Vector128<uint> f) = Vector128.Widen(hi);
                (Vector128.ConvertToSingle(a.AsInt32() - z) * s).StoreUnsafe(ref d, (nuint)i);
                (Vector128.ConvertToSingle(b.AsInt32() - z) * s).StoreUnsafe(ref d, (nuint)i + 4);
                (Vector128.ConvertToSingle(e.AsInt32() - z) * s).StoreUnsafe(ref d, (nuint)i + 8);
                (Vector128.ConvertToSingle(f.AsInt32() - z) * s).StoreUnsafe(ref d, (nuint)i + 12);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref d, i) = (Unsafe.Add(ref c, i) - zero) * scale;
        }
    }

    /// <summary>16 bytes zero-extended to 16 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> WidenToInt32x16(ref byte source)
    {
        Vector128<byte> bytes = Vector128.LoadUnsafe(ref source);
        if (Avx512F.IsSupported)
        {
            return Avx512F.ConvertToVector512Int32(bytes);
        }

        (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(bytes);
        return Vector512.Create(Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)),
                                Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi))).AsInt32();
    }

    /// <summary>8 bytes zero-extended to 8 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> WidenToInt32x8(ref byte source)
    {
        Vector128<byte> bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref source)).AsByte();
        if (Avx2.IsSupported)
        {
            return Avx2.ConvertToVector256Int32(bytes);
        }

        Vector128<ushort> lo = Vector128.WidenLower(bytes);
        return Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)).AsInt32();
    }

    /// <summary>4 bytes zero-extended to 4 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> WidenToInt32x4(ref byte source)
    {
        Vector128<byte> bytes = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref source)).AsByte();
        if (Sse41.IsSupported)
        {
            return Sse41.ConvertToVector128Int32(bytes);
        }

        return Vector128.WidenLower(Vector128.WidenLower(bytes)).AsInt32();
    }

    /// <summary>Integral floats in 0 … 255 to bytes.</summary>
    /// <summary>
    /// The integer codes of a group in one pass, eight values at a time: x / scale rounded half to even, then clamped and
    /// offset as <see cref="SchemeReference.CodeOf"/> does (each step the same IEEE operation, so the same bytes).
    /// </summary>
    private static void IntegerCodes256(QuantScheme scheme, ReadOnlySpan<float> group, float scale, int zero, Span<byte> codes)
    {
        ref float x = ref MemoryMarshal.GetReference(group);
        ref byte c = ref MemoryMarshal.GetReference(codes);
        bool symmetric = scheme.Symmetric;
        int qmax = SchemeReference.SymmetricMax(scheme.Bits);
        Vector256<float> divisor = Vector256.Create(scale);
        Vector256<float> offset = Vector256.Create((float)zero);
        Vector256<float> low = Vector256.Create(symmetric ? -qmax : 0f);
        Vector256<float> high = Vector256.Create(symmetric ? qmax : (float)SchemeReference.CodeMax(scheme.Bits));
        int n = group.Length;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            Vector256<int> c0 = Code(Vector256.LoadUnsafe(ref x, (nuint)i));
            Vector256<int> c1 = Code(Vector256.LoadUnsafe(ref x, (nuint)i + 8));
            Vector256<int> c2 = Code(Vector256.LoadUnsafe(ref x, (nuint)i + 16));
            Vector256<int> c3 = Code(Vector256.LoadUnsafe(ref x, (nuint)i + 24));
            Vector256.Narrow(Vector256.Narrow(c0, c1), Vector256.Narrow(c2, c3)).AsByte().StoreUnsafe(ref c, (nuint)i);
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref c, i) = SchemeReference.CodeOf(scheme, Unsafe.Add(ref x, i), scale, zero);
        }

        Vector256<int> Code(Vector256<float> v)
        {
            Vector256<float> q = Vector256.Round(v / divisor);
            q = symmetric ? Vector256.Min(Vector256.Max(q, low), high) + offset : Vector256.Min(Vector256.Max(q + offset, low), high);
            return Vector256.ConvertToInt32(q);
        }
    }

    private static void NarrowToBytes(ReadOnlySpan<float> values, Span<byte> bytes)
    {
        ref float v = ref MemoryMarshal.GetReference(values);
        ref byte b = ref MemoryMarshal.GetReference(bytes);
        int n = values.Length;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 32; i += 32)
            {
                Vector256<int> c0 = Vector256.ConvertToInt32(Vector256.LoadUnsafe(ref v, (nuint)i));
                Vector256<int> c1 = Vector256.ConvertToInt32(Vector256.LoadUnsafe(ref v, (nuint)i + 8));
                Vector256<int> c2 = Vector256.ConvertToInt32(Vector256.LoadUnsafe(ref v, (nuint)i + 16));
                Vector256<int> c3 = Vector256.ConvertToInt32(Vector256.LoadUnsafe(ref v, (nuint)i + 24));
                Vector256.Narrow(Vector256.Narrow(c0, c1).AsUInt16(), Vector256.Narrow(c2, c3).AsUInt16()).StoreUnsafe(ref b, (nuint)i);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                Vector128<int> c0 = Vector128.ConvertToInt32(Vector128.LoadUnsafe(ref v, (nuint)i));
                Vector128<int> c1 = Vector128.ConvertToInt32(Vector128.LoadUnsafe(ref v, (nuint)i + 4));
                Vector128<int> c2 = Vector128.ConvertToInt32(Vector128.LoadUnsafe(ref v, (nuint)i + 8));
                Vector128<int> c3 = Vector128.ConvertToInt32(Vector128.LoadUnsafe(ref v, (nuint)i + 12));
                Vector128.Narrow(Vector128.Narrow(c0, c1).AsUInt16(), Vector128.Narrow(c2, c3).AsUInt16()).StoreUnsafe(ref b, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref b, i) = (byte)(int)Unsafe.Add(ref v, i);
        }
    }
}
