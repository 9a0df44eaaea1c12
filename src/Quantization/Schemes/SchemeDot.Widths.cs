using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Schemes;

// The vector row products of SchemeDot, written once over a width (Width512, Width256, Width128) that the JIT
// specialises per struct type argument. The inner loops live in a method of their own (Groups), so their accumulators
// stay in registers.
internal static partial class SchemeDot
{
    /// <summary>One row's product with prepared activations on Vector512 (16 lanes).</summary>
    private static float DotRow512(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch) =>
        DotRow<Width512, Vector512<float>, Vector512<int>>(layout, tensor, row, xp, scratch);

    /// <summary>One row's product with prepared activations on Vector256 (8 lanes).</summary>
    private static float DotRow256(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch) =>
        DotRow<Width256, Vector256<float>, Vector256<int>>(layout, tensor, row, xp, scratch);

    /// <summary>One row's product with prepared activations on Vector128 (4 lanes).</summary>
    private static float DotRow128(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch) =>
        DotRow<Width128, Vector128<float>, Vector128<int>>(layout, tensor, row, xp, scratch);

    /// <summary>One row's product with prepared activations on <typeparamref name="TWidth"/>.</summary>
    private static float DotRow<TWidth, TFloat, TInt>(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch)
        where TWidth : struct, ISimdWidth<TFloat, TInt>
        where TFloat : struct
        where TInt : struct
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
        int chunk = scheme.Element != SchemeElement.Integer || bits is not (2 or 4) ? TWidth.Lanes : 8 / bits * TWidth.Lanes;
        int codeStride = groupLength * bits / 8;

        // Every group whole and a whole number of chunks (group schemes, and rows of a multiple of the chunk): one call.
        if (layout.Columns % groupLength == 0 && groupLength % chunk == 0 && (bits is 2 or 4 or 8 || scheme.Element != SchemeElement.Integer))
        {
            return TWidth.Sum(Groups<TWidth, TFloat, TInt>(scheme, ref codes, ref x, groupLength, codeStride, groups, ref scales, ref zeros));
        }

        // Otherwise group by group, the vector part of each then its remainder code by code.
        TFloat total = default;
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
                total = TWidth.Add(total, Groups<TWidth, TFloat, TInt>(QuantScheme.Int8PerChannel, ref MemoryMarshal.GetReference(unpacked), ref Unsafe.Add(ref x, start), done, 0, 1,
                                                                   ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g)));
            }
            else
            {
                total = TWidth.Add(total, Groups<TWidth, TFloat, TInt>(scheme, ref groupCodes, ref Unsafe.Add(ref x, start), done, 0, 1, ref Unsafe.Add(ref scales, g), ref Unsafe.Add(ref zeros, g)));
            }

            if (done < length)
            {
                tail += TailSum(scheme, rowCodes, start + done, length - done, Unsafe.Add(ref zeros, g), xp.Slice(start + done, length - done)) * Unsafe.Add(ref scales, g);
            }
        }

        return TWidth.Sum(total) + tail;
    }

    /// <summary>
    /// Σg scale[g] · Σ (code − zero[g]) · x (or Σ FP8(code) · x) over <paramref name="groups"/> consecutive groups of
    /// <paramref name="n"/> codes (a multiple of the chunk), <paramref name="codeStride"/> bytes apart; two accumulators per group.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static TFloat Groups<TWidth, TFloat, TInt>(QuantScheme scheme, ref byte codes, ref float x, int n, int codeStride, int groups, ref float scales, ref int zeros)
        where TWidth : struct, ISimdWidth<TFloat, TInt>
        where TFloat : struct
        where TInt : struct
    {
        int lanes = TWidth.Lanes;
        TFloat total = default;
        switch (scheme.Element)
        {
            case SchemeElement.Fp8E4M3:
                for (int g = 0; g < groups; g++)
                {
                    total = TWidth.MultiplyAdd(Fp8Group<E4M3Encoding, TWidth, TFloat, TInt>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                               TWidth.Broadcast(Unsafe.Add(ref scales, g)), total);
                }

                return total;
            case SchemeElement.Fp8E5M2:
                for (int g = 0; g < groups; g++)
                {
                    total = TWidth.MultiplyAdd(Fp8Group<E5M2Encoding, TWidth, TFloat, TInt>(ref Unsafe.Add(ref codes, g * codeStride), ref Unsafe.Add(ref x, g * n), n),
                                               TWidth.Broadcast(Unsafe.Add(ref scales, g)), total);
                }

                return total;
        }

        int bits = scheme.Bits;
        for (int g = 0; g < groups; g++)
        {
            ref byte c = ref Unsafe.Add(ref codes, g * codeStride);
            ref float xg = ref Unsafe.Add(ref x, g * n);
            TInt z = TWidth.BroadcastInt(Unsafe.Add(ref zeros, g));
            TFloat a0 = default, a1 = default;
            if (bits == 4)
            {
                // Low nibbles are the even codes of each chunk, high nibbles the odd ones; the activations were permuted to match.
                TInt mask = TWidth.BroadcastInt(0x0F);
                for (int i = 0; i < n; i += 2 * lanes)
                {
                    TInt v = TWidth.WidenBytes(ref Unsafe.Add(ref c, i / 2));
                    a0 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.And(v, mask), z)), TWidth.Load(ref xg, (nuint)i), a0);
                    a1 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.ShiftRightLogical(v, 4), z)), TWidth.Load(ref xg, (nuint)(i + lanes)), a1);
                }
            }
            else if (bits == 2)
            {
                TInt mask = TWidth.BroadcastInt(0x03);
                for (int i = 0; i < n; i += 4 * lanes)
                {
                    TInt v = TWidth.WidenBytes(ref Unsafe.Add(ref c, i / 4));
                    a0 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.And(v, mask), z)), TWidth.Load(ref xg, (nuint)i), a0);
                    a1 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.And(TWidth.ShiftRightLogical(v, 2), mask), z)), TWidth.Load(ref xg, (nuint)(i + lanes)), a1);
                    a0 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.And(TWidth.ShiftRightLogical(v, 4), mask), z)), TWidth.Load(ref xg, (nuint)(i + 2 * lanes)), a0);
                    a1 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.ShiftRightLogical(v, 6), z)), TWidth.Load(ref xg, (nuint)(i + 3 * lanes)), a1);
                }
            }
            else
            {
                int i = 0;
                for (; i + 2 * lanes <= n; i += 2 * lanes)
                {
                    a0 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.WidenBytes(ref Unsafe.Add(ref c, i)), z)), TWidth.Load(ref xg, (nuint)i), a0);
                    a1 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.WidenBytes(ref Unsafe.Add(ref c, i + lanes)), z)), TWidth.Load(ref xg, (nuint)(i + lanes)), a1);
                }

                if (i < n)
                {
                    a0 = TWidth.MultiplyAdd(TWidth.ConvertToSingle(TWidth.Subtract(TWidth.WidenBytes(ref Unsafe.Add(ref c, i)), z)), TWidth.Load(ref xg, (nuint)i), a0);
                }
            }

            total = TWidth.MultiplyAdd(TWidth.Add(a0, a1), TWidth.Broadcast(Unsafe.Add(ref scales, g)), total);
        }

        return total;
    }

    /// <summary>Σ FP8(code) · x over <paramref name="n"/> (a multiple of the lane count) codes, in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat Fp8Group<T, TWidth, TFloat, TInt>(ref byte codes, ref float x, int n)
        where T : struct, IFp8Encoding
        where TWidth : struct, ISimdWidth<TFloat, TInt>
        where TFloat : struct
        where TInt : struct
    {
        int lanes = TWidth.Lanes;
        TFloat a0 = default, a1 = default;
        int i = 0;
        for (; i + 2 * lanes <= n; i += 2 * lanes)
        {
            a0 = TWidth.MultiplyAdd(DecodeFp8<T, TFloat, TInt>(TWidth.WidenBytes(ref Unsafe.Add(ref codes, i))), TWidth.Load(ref x, (nuint)i), a0);
            a1 = TWidth.MultiplyAdd(DecodeFp8<T, TFloat, TInt>(TWidth.WidenBytes(ref Unsafe.Add(ref codes, i + lanes))), TWidth.Load(ref x, (nuint)(i + lanes)), a1);
        }

        if (i < n)
        {
            a0 = TWidth.MultiplyAdd(DecodeFp8<T, TFloat, TInt>(TWidth.WidenBytes(ref Unsafe.Add(ref codes, i))), TWidth.Load(ref x, (nuint)i), a0);
        }

        return TWidth.Add(a0, a1);
    }

    /// <summary><see cref="Fp8Vector"/>'s lane decoder of the width's type (the type tests fold away per instantiation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TFloat DecodeFp8<T, TFloat, TInt>(TInt codes)
        where T : struct, IFp8Encoding
        where TFloat : struct
        where TInt : struct
    {
        if (typeof(TInt) == typeof(Vector512<int>))
        {
            return Unsafe.BitCast<Vector512<float>, TFloat>(Fp8Vector.DecodeLanes<T>(Unsafe.BitCast<TInt, Vector512<int>>(codes)));
        }

        if (typeof(TInt) == typeof(Vector256<int>))
        {
            return Unsafe.BitCast<Vector256<float>, TFloat>(Fp8Vector.DecodeLanes<T>(Unsafe.BitCast<TInt, Vector256<int>>(codes)));
        }

        return Unsafe.BitCast<Vector128<float>, TFloat>(Fp8Vector.DecodeLanes<T>(Unsafe.BitCast<TInt, Vector128<int>>(codes)));
    }
}
