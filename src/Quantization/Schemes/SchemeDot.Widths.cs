using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Schemes;

// The vector row products of SchemeDot, one set per width. The three sets are the same text with the vector type and lane
// count changed; an edit to one belongs in all three. The inner loops live in a method of their own (Groups*), so their
// accumulators stay in registers.
internal static partial class SchemeDot
{
    /// <summary>One row's product with prepared activations on Vector512 (16 lanes).</summary>
    private static float DotRow512(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch)
    {
        QuantScheme scheme = layout.Scheme;
        int bits = scheme.Bits;
        int groupLength = layout.GroupLength;
        int groups = layout.GroupsPerRow;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ref float x = ref MemoryMarshal.GetReference(xp);
        ReadRowScales(layout, tensor, row, scratch.Scales, scratch.Zeros);
        ref float scales = ref MemoryMarshal.GetReference(scratch.Scales);
        ref int zeros = ref MemoryMarshal.GetReference(scratch.Zeros);
        int chunk = scheme.Element != SchemeElement.Integer || bits is not (2 or 4) ? 16 : 8 / bits * 16;
        int codeStride = groupLength * bits / 8;

        // Every group whole and a whole number of chunks (group schemes, and rows of a multiple of the chunk): one call.
        if (layout.Columns % groupLength == 0 && groupLength % chunk == 0 && (bits is 2 or 4 or 8 || scheme.Element != SchemeElement.Integer))
        {
            return Vector512.Sum(Groups512(scheme, ref codes, ref x, groupLength, codeStride, groups, ref scales, ref zeros));
        }

        // Otherwise group by group, the vector part of each then its remainder code by code.
        Vector512<float> total = Vector512<float>.Zero;
        float tail = 0;
        for (int g = 0; g < groups; g++)
        {
            int start = g * groupLength;
            int length = Math.Min(groupLength, layout.Columns - start);
            int done = length - length % chunk;
            ref byte groupCodes = ref Unsafe.Add(ref codes, start * bits / 8);
            if (scheme.Element == SchemeElement.Integer && bits is not (2 or 4 or 8))
            {
                ReadOnlySpan<byte> unpacked = SchemeKernel.UnpackGroup(bits, rowCodes, start, scratch.Codes[..length]);
                total += Groups512(QuantScheme.Int8PerChannel, ref MemoryMarshal.GetReference(unpacked), ref Unsafe.Add(ref x, start), done, 0, 1,
                                   ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }
            else
            {
                total += Groups512(scheme, ref groupCodes, ref Unsafe.Add(ref x, start), done, 0, 1, ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }

            if (done < length)
            {
                tail += TailSum(scheme, rowCodes, start + done, length - done, Unsafe.Add(ref zeros, g), xp.Slice(start + done, length - done)) * Unsafe.Add(ref scales, g);
            }
        }

        return Vector512.Sum(total) + tail;
    }

    /// <summary>
    /// Σg scale[g] · Σ (code − zero[g]) · x (or Σ FP8(code) · x) over <paramref name="groups"/> consecutive groups of
    /// <paramref name="n"/> codes (a multiple of the chunk), <paramref name="codeStride"/> bytes apart; two accumulators per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector512<float> Groups512(QuantScheme scheme, ref byte codes, ref float x, int n, int codeStride, int groups, ref float scales, ref int zeros)
    {
        Vector512<float> total = Vector512<float>.Zero;
        switch (scheme.Element)
        {
            case SchemeElement.Fp8E4M3:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group512<E4M3Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector512.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
            case SchemeElement.Fp8E5M2:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group512<E5M2Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector512.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
        }

        int bits = scheme.Bits;
        for (int g = 0; g < groups; g++)
        {
            ref byte c = ref Unsafe.Add(ref codes, g * codeStride);
            ref float xg = ref Unsafe.Add(ref x, g * n);
            Vector512<int> z = Vector512.Create(Unsafe.Add(ref zeros, g));
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            if (bits == 4)
            {
                // Low nibbles are the even codes of each chunk, high nibbles the odd ones; the activations were permuted to match.
                Vector512<int> mask = Vector512.Create(0x0F);
                for (int i = 0; i < n; i += 2 * 16)
                {
                    Vector512<int> v = SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref c, i / 2));
                    a0 = MulAdd(Vector512.ConvertToSingle((v & mask) - z), Vector512.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector512.ConvertToSingle((v >>> 4) - z), Vector512.LoadUnsafe(ref xg, (nuint)(i + 16)), a1);
                }
            }
            else if (bits == 2)
            {
                Vector512<int> mask = Vector512.Create(0x03);
                for (int i = 0; i < n; i += 4 * 16)
                {
                    Vector512<int> v = SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref c, i / 4));
                    a0 = MulAdd(Vector512.ConvertToSingle((v & mask) - z), Vector512.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector512.ConvertToSingle(((v >>> 2) & mask) - z), Vector512.LoadUnsafe(ref xg, (nuint)(i + 16)), a1);
                    a0 = MulAdd(Vector512.ConvertToSingle(((v >>> 4) & mask) - z), Vector512.LoadUnsafe(ref xg, (nuint)(i + 2 * 16)), a0);
                    a1 = MulAdd(Vector512.ConvertToSingle((v >>> 6) - z), Vector512.LoadUnsafe(ref xg, (nuint)(i + 3 * 16)), a1);
                }
            }
            else
            {
                int i = 0;
                for (; i + 2 * 16 <= n; i += 2 * 16)
                {
                    a0 = MulAdd(Vector512.ConvertToSingle(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref c, i)) - z), Vector512.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector512.ConvertToSingle(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref c, i + 16)) - z), Vector512.LoadUnsafe(ref xg, (nuint)(i + 16)), a1);
                }

                if (i < n)
                {
                    a0 = MulAdd(Vector512.ConvertToSingle(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref c, i)) - z), Vector512.LoadUnsafe(ref xg, (nuint)i), a0);
                }
            }

            total = MulAdd(a0 + a1, Vector512.Create(Unsafe.Add(ref scales, g)), total);
        }

        return total;
    }

    /// <summary>Σ FP8(code) · x over <paramref name="n"/> (a multiple of 16) codes, in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fp8Group512<T>(ref byte codes, ref float x, int n)
        where T : struct, IFp8Encoding
    {
        Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
        int i = 0;
        for (; i + 2 * 16 <= n; i += 2 * 16)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref codes, i))), Vector512.LoadUnsafe(ref x, (nuint)i), a0);
            a1 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref codes, i + 16))), Vector512.LoadUnsafe(ref x, (nuint)(i + 16)), a1);
        }

        if (i < n)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref codes, i))), Vector512.LoadUnsafe(ref x, (nuint)i), a0);
        }

        return a0 + a1;
    }

    /// <summary>a · b + c, fused where the processor has it (a product's rounding, not a quantizer's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Fma.IsSupported || AdvSimd.IsSupported ? Vector512.FusedMultiplyAdd(a, b, c) : a * b + c;

    /// <summary>One row's product with prepared activations on Vector256 (8 lanes).</summary>
    private static float DotRow256(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch)
    {
        QuantScheme scheme = layout.Scheme;
        int bits = scheme.Bits;
        int groupLength = layout.GroupLength;
        int groups = layout.GroupsPerRow;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ref float x = ref MemoryMarshal.GetReference(xp);
        ReadRowScales(layout, tensor, row, scratch.Scales, scratch.Zeros);
        ref float scales = ref MemoryMarshal.GetReference(scratch.Scales);
        ref int zeros = ref MemoryMarshal.GetReference(scratch.Zeros);
        int chunk = scheme.Element != SchemeElement.Integer || bits is not (2 or 4) ? 8 : 8 / bits * 8;
        int codeStride = groupLength * bits / 8;

        // Every group whole and a whole number of chunks (group schemes, and rows of a multiple of the chunk): one call.
        if (layout.Columns % groupLength == 0 && groupLength % chunk == 0 && (bits is 2 or 4 or 8 || scheme.Element != SchemeElement.Integer))
        {
            return Vector256.Sum(Groups256(scheme, ref codes, ref x, groupLength, codeStride, groups, ref scales, ref zeros));
        }

        // Otherwise group by group, the vector part of each then its remainder code by code.
        Vector256<float> total = Vector256<float>.Zero;
        float tail = 0;
        for (int g = 0; g < groups; g++)
        {
            int start = g * groupLength;
            int length = Math.Min(groupLength, layout.Columns - start);
            int done = length - length % chunk;
            ref byte groupCodes = ref Unsafe.Add(ref codes, start * bits / 8);
            if (scheme.Element == SchemeElement.Integer && bits is not (2 or 4 or 8))
            {
                ReadOnlySpan<byte> unpacked = SchemeKernel.UnpackGroup(bits, rowCodes, start, scratch.Codes[..length]);
                total += Groups256(QuantScheme.Int8PerChannel, ref MemoryMarshal.GetReference(unpacked), ref Unsafe.Add(ref x, start), done, 0, 1,
                                   ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }
            else
            {
                total += Groups256(scheme, ref groupCodes, ref Unsafe.Add(ref x, start), done, 0, 1, ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }

            if (done < length)
            {
                tail += TailSum(scheme, rowCodes, start + done, length - done, Unsafe.Add(ref zeros, g), xp.Slice(start + done, length - done)) * Unsafe.Add(ref scales, g);
            }
        }

        return Vector256.Sum(total) + tail;
    }

    /// <summary>
    /// Σg scale[g] · Σ (code − zero[g]) · x (or Σ FP8(code) · x) over <paramref name="groups"/> consecutive groups of
    /// <paramref name="n"/> codes (a multiple of the chunk), <paramref name="codeStride"/> bytes apart; two accumulators per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<float> Groups256(QuantScheme scheme, ref byte codes, ref float x, int n, int codeStride, int groups, ref float scales, ref int zeros)
    {
        Vector256<float> total = Vector256<float>.Zero;
        switch (scheme.Element)
        {
            case SchemeElement.Fp8E4M3:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group256<E4M3Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector256.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
            case SchemeElement.Fp8E5M2:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group256<E5M2Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector256.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
        }

        int bits = scheme.Bits;
        for (int g = 0; g < groups; g++)
        {
            ref byte c = ref Unsafe.Add(ref codes, g * codeStride);
            ref float xg = ref Unsafe.Add(ref x, g * n);
            Vector256<int> z = Vector256.Create(Unsafe.Add(ref zeros, g));
            Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
            if (bits == 4)
            {
                // Low nibbles are the even codes of each chunk, high nibbles the odd ones; the activations were permuted to match.
                Vector256<int> mask = Vector256.Create(0x0F);
                for (int i = 0; i < n; i += 2 * 8)
                {
                    Vector256<int> v = SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref c, i / 2));
                    a0 = MulAdd(Vector256.ConvertToSingle((v & mask) - z), Vector256.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector256.ConvertToSingle((v >>> 4) - z), Vector256.LoadUnsafe(ref xg, (nuint)(i + 8)), a1);
                }
            }
            else if (bits == 2)
            {
                Vector256<int> mask = Vector256.Create(0x03);
                for (int i = 0; i < n; i += 4 * 8)
                {
                    Vector256<int> v = SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref c, i / 4));
                    a0 = MulAdd(Vector256.ConvertToSingle((v & mask) - z), Vector256.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector256.ConvertToSingle(((v >>> 2) & mask) - z), Vector256.LoadUnsafe(ref xg, (nuint)(i + 8)), a1);
                    a0 = MulAdd(Vector256.ConvertToSingle(((v >>> 4) & mask) - z), Vector256.LoadUnsafe(ref xg, (nuint)(i + 2 * 8)), a0);
                    a1 = MulAdd(Vector256.ConvertToSingle((v >>> 6) - z), Vector256.LoadUnsafe(ref xg, (nuint)(i + 3 * 8)), a1);
                }
            }
            else
            {
                int i = 0;
                for (; i + 2 * 8 <= n; i += 2 * 8)
                {
                    a0 = MulAdd(Vector256.ConvertToSingle(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref c, i)) - z), Vector256.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector256.ConvertToSingle(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref c, i + 8)) - z), Vector256.LoadUnsafe(ref xg, (nuint)(i + 8)), a1);
                }

                if (i < n)
                {
                    a0 = MulAdd(Vector256.ConvertToSingle(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref c, i)) - z), Vector256.LoadUnsafe(ref xg, (nuint)i), a0);
                }
            }

            total = MulAdd(a0 + a1, Vector256.Create(Unsafe.Add(ref scales, g)), total);
        }

        return total;
    }

    /// <summary>Σ FP8(code) · x over <paramref name="n"/> (a multiple of 8) codes, in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fp8Group256<T>(ref byte codes, ref float x, int n)
        where T : struct, IFp8Encoding
    {
        Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 2 * 8 <= n; i += 2 * 8)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref codes, i))), Vector256.LoadUnsafe(ref x, (nuint)i), a0);
            a1 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref codes, i + 8))), Vector256.LoadUnsafe(ref x, (nuint)(i + 8)), a1);
        }

        if (i < n)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref codes, i))), Vector256.LoadUnsafe(ref x, (nuint)i), a0);
        }

        return a0 + a1;
    }

    /// <summary>a · b + c, fused where the processor has it (a product's rounding, not a quantizer's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported || AdvSimd.IsSupported ? Vector256.FusedMultiplyAdd(a, b, c) : a * b + c;

    /// <summary>One row's product with prepared activations on Vector128 (4 lanes).</summary>
    private static float DotRow128(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch)
    {
        QuantScheme scheme = layout.Scheme;
        int bits = scheme.Bits;
        int groupLength = layout.GroupLength;
        int groups = layout.GroupsPerRow;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ref float x = ref MemoryMarshal.GetReference(xp);
        ReadRowScales(layout, tensor, row, scratch.Scales, scratch.Zeros);
        ref float scales = ref MemoryMarshal.GetReference(scratch.Scales);
        ref int zeros = ref MemoryMarshal.GetReference(scratch.Zeros);
        int chunk = scheme.Element != SchemeElement.Integer || bits is not (2 or 4) ? 4 : 8 / bits * 4;
        int codeStride = groupLength * bits / 8;

        // Every group whole and a whole number of chunks (group schemes, and rows of a multiple of the chunk): one call.
        if (layout.Columns % groupLength == 0 && groupLength % chunk == 0 && (bits is 2 or 4 or 8 || scheme.Element != SchemeElement.Integer))
        {
            return Vector128.Sum(Groups128(scheme, ref codes, ref x, groupLength, codeStride, groups, ref scales, ref zeros));
        }

        // Otherwise group by group, the vector part of each then its remainder code by code.
        Vector128<float> total = Vector128<float>.Zero;
        float tail = 0;
        for (int g = 0; g < groups; g++)
        {
            int start = g * groupLength;
            int length = Math.Min(groupLength, layout.Columns - start);
            int done = length - length % chunk;
            ref byte groupCodes = ref Unsafe.Add(ref codes, start * bits / 8);
            if (scheme.Element == SchemeElement.Integer && bits is not (2 or 4 or 8))
            {
                ReadOnlySpan<byte> unpacked = SchemeKernel.UnpackGroup(bits, rowCodes, start, scratch.Codes[..length]);
                total += Groups128(QuantScheme.Int8PerChannel, ref MemoryMarshal.GetReference(unpacked), ref Unsafe.Add(ref x, start), done, 0, 1,
                                   ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }
            else
            {
                total += Groups128(scheme, ref groupCodes, ref Unsafe.Add(ref x, start), done, 0, 1, ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g));
            }

            if (done < length)
            {
                tail += TailSum(scheme, rowCodes, start + done, length - done, Unsafe.Add(ref zeros, g), xp.Slice(start + done, length - done)) * Unsafe.Add(ref scales, g);
            }
        }

        return Vector128.Sum(total) + tail;
    }

    /// <summary>
    /// Σg scale[g] · Σ (code − zero[g]) · x (or Σ FP8(code) · x) over <paramref name="groups"/> consecutive groups of
    /// <paramref name="n"/> codes (a multiple of the chunk), <paramref name="codeStride"/> bytes apart; two accumulators per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector128<float> Groups128(QuantScheme scheme, ref byte codes, ref float x, int n, int codeStride, int groups, ref float scales, ref int zeros)
    {
        Vector128<float> total = Vector128<float>.Zero;
        switch (scheme.Element)
        {
            case SchemeElement.Fp8E4M3:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group128<E4M3Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector128.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
            case SchemeElement.Fp8E5M2:
                for (int g = 0; g < groups; g++)
                {
                    total = MulAdd(Fp8Group128<E5M2Encoding>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                   Vector128.Create(Unsafe.Add(ref scales, g)), total);
                }

                return total;
        }

        int bits = scheme.Bits;
        for (int g = 0; g < groups; g++)
        {
            ref byte c = ref Unsafe.Add(ref codes, g * codeStride);
            ref float xg = ref Unsafe.Add(ref x, g * n);
            Vector128<int> z = Vector128.Create(Unsafe.Add(ref zeros, g));
            Vector128<float> a0 = Vector128<float>.Zero, a1 = Vector128<float>.Zero;
            if (bits == 4)
            {
                // Low nibbles are the even codes of each chunk, high nibbles the odd ones; the activations were permuted to match.
                Vector128<int> mask = Vector128.Create(0x0F);
                for (int i = 0; i < n; i += 2 * 4)
                {
                    Vector128<int> v = SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref c, i / 2));
                    a0 = MulAdd(Vector128.ConvertToSingle((v & mask) - z), Vector128.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector128.ConvertToSingle((v >>> 4) - z), Vector128.LoadUnsafe(ref xg, (nuint)(i + 4)), a1);
                }
            }
            else if (bits == 2)
            {
                Vector128<int> mask = Vector128.Create(0x03);
                for (int i = 0; i < n; i += 4 * 4)
                {
                    Vector128<int> v = SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref c, i / 4));
                    a0 = MulAdd(Vector128.ConvertToSingle((v & mask) - z), Vector128.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector128.ConvertToSingle(((v >>> 2) & mask) - z), Vector128.LoadUnsafe(ref xg, (nuint)(i + 4)), a1);
                    a0 = MulAdd(Vector128.ConvertToSingle(((v >>> 4) & mask) - z), Vector128.LoadUnsafe(ref xg, (nuint)(i + 2 * 4)), a0);
                    a1 = MulAdd(Vector128.ConvertToSingle((v >>> 6) - z), Vector128.LoadUnsafe(ref xg, (nuint)(i + 3 * 4)), a1);
                }
            }
            else
            {
                int i = 0;
                for (; i + 2 * 4 <= n; i += 2 * 4)
                {
                    a0 = MulAdd(Vector128.ConvertToSingle(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref c, i)) - z), Vector128.LoadUnsafe(ref xg, (nuint)i), a0);
                    a1 = MulAdd(Vector128.ConvertToSingle(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref c, i + 4)) - z), Vector128.LoadUnsafe(ref xg, (nuint)(i + 4)), a1);
                }

                if (i < n)
                {
                    a0 = MulAdd(Vector128.ConvertToSingle(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref c, i)) - z), Vector128.LoadUnsafe(ref xg, (nuint)i), a0);
                }
            }

            total = MulAdd(a0 + a1, Vector128.Create(Unsafe.Add(ref scales, g)), total);
        }

        return total;
    }

    /// <summary>Σ FP8(code) · x over <paramref name="n"/> (a multiple of 4) codes, in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Fp8Group128<T>(ref byte codes, ref float x, int n)
        where T : struct, IFp8Encoding
    {
        Vector128<float> a0 = Vector128<float>.Zero, a1 = Vector128<float>.Zero;
        int i = 0;
        for (; i + 2 * 4 <= n; i += 2 * 4)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref codes, i))), Vector128.LoadUnsafe(ref x, (nuint)i), a0);
            a1 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref codes, i + 4))), Vector128.LoadUnsafe(ref x, (nuint)(i + 4)), a1);
        }

        if (i < n)
        {
            a0 = MulAdd(Fp8Vector.DecodeLanes<T>(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref codes, i))), Vector128.LoadUnsafe(ref x, (nuint)i), a0);
        }

        return a0 + a1;
    }

    /// <summary>a · b + c, fused where the processor has it (a product's rounding, not a quantizer's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Fma.IsSupported || AdvSimd.IsSupported ? Vector128.FusedMultiplyAdd(a, b, c) : a * b + c;
}
