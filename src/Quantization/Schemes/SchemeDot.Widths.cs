using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization.Schemes;

// The vector row products of SchemeDot, one per width. The three bodies are the same text with the vector type and lane
// count changed; an edit to one belongs in all three.
internal static partial class SchemeDot
{
    /// <summary>One row's product with prepared activations on Vector512 (16 lanes).</summary>
    private static float DotRow512(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, Span<byte> scratch)
    {
        QuantScheme scheme = layout.Scheme;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ReadOnlySpan<byte> scaleBytes = tensor[(int)layout.ScalesOffset..];
        Vector512<float> total = Vector512<float>.Zero;
        float tail = 0;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            int start = g * layout.GroupLength;
            int length = Math.Min(layout.GroupLength, layout.Columns - start);
            long s = layout.ScaleIndex(row, g);
            float scale = SchemeScales.Read(scheme.ScaleType, scaleBytes, s);
            int zero = SchemeReference.ZeroPoint(layout, tensor, s);
            ref float x = ref Unsafe.AsRef(in xp[start]);
            Vector512<float> acc = Vector512<float>.Zero;
            float accTail = 0;
            int i = 0;
            switch (scheme.Element)
            {
                case SchemeElement.Fp8E4M3:
                    for (; i <= length - 16; i += 16)
                    {
                        acc += Fp8Vector.DecodeLanes<E4M3Encoding>(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref codes, start + i))) * Vector512.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E4M3Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                case SchemeElement.Fp8E5M2:
                    for (; i <= length - 16; i += 16)
                    {
                        acc += Fp8Vector.DecodeLanes<E5M2Encoding>(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref codes, start + i))) * Vector512.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E5M2Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                default:
                {
                    Vector512<int> z = Vector512.Create(zero);
                    ref byte groupCodes = ref Unsafe.Add(ref codes, start * scheme.Bits / 8);
                    if (scheme.Bits == 4)
                    {
                        // Low nibbles are the even codes of the chunk, high nibbles the odd ones; the activations were
                        // permuted to match (PrepareActivations).
                        Vector512<int> mask = Vector512.Create(0x0F);
                        for (; i <= length - 2 * 16; i += 2 * 16)
                        {
                            Vector512<int> v = SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref groupCodes, i / 2));
                            acc += Vector512.ConvertToSingle((v & mask) - z) * Vector512.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector512.ConvertToSingle((v >>> 4) - z) * Vector512.LoadUnsafe(ref x, (nuint)(i + 16));
                        }
                    }
                    else if (scheme.Bits == 2)
                    {
                        Vector512<int> mask = Vector512.Create(0x03);
                        for (; i <= length - 4 * 16; i += 4 * 16)
                        {
                            Vector512<int> v = SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref groupCodes, i / 4));
                            acc += Vector512.ConvertToSingle((v & mask) - z) * Vector512.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector512.ConvertToSingle(((v >>> 2) & mask) - z) * Vector512.LoadUnsafe(ref x, (nuint)(i + 16));
                            acc += Vector512.ConvertToSingle(((v >>> 4) & mask) - z) * Vector512.LoadUnsafe(ref x, (nuint)(i + 2 * 16));
                            acc += Vector512.ConvertToSingle((v >>> 6) - z) * Vector512.LoadUnsafe(ref x, (nuint)(i + 3 * 16));
                        }
                    }
                    else
                    {
                        // 8 bits read in place; 3, 5, 6 and 7 bits unpacked to one byte per code first.
                        ref byte bytes = ref scheme.Bits == 8
                            ? ref groupCodes
                            : ref MemoryMarshal.GetReference(SchemeKernel.UnpackGroup(scheme.Bits, rowCodes, start, scratch[..length]));
                        for (; i <= length - 16; i += 16)
                        {
                            acc += Vector512.ConvertToSingle(SchemeKernel.WidenToInt32x16(ref Unsafe.Add(ref bytes, i)) - z) * Vector512.LoadUnsafe(ref x, (nuint)i);
                        }
                    }

                    for (; i < length; i++)
                    {
                        accTail += (SchemeCodes.Get(scheme.Bits, rowCodes, start + i) - zero) * Unsafe.Add(ref x, i);
                    }

                    break;
                }
            }

            total += acc * Vector512.Create(scale);
            tail += accTail * scale;
        }

        return Vector512.Sum(total) + tail;
    }

    /// <summary>One row's product with prepared activations on Vector256 (8 lanes).</summary>
    private static float DotRow256(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, Span<byte> scratch)
    {
        QuantScheme scheme = layout.Scheme;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ReadOnlySpan<byte> scaleBytes = tensor[(int)layout.ScalesOffset..];
        Vector256<float> total = Vector256<float>.Zero;
        float tail = 0;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            int start = g * layout.GroupLength;
            int length = Math.Min(layout.GroupLength, layout.Columns - start);
            long s = layout.ScaleIndex(row, g);
            float scale = SchemeScales.Read(scheme.ScaleType, scaleBytes, s);
            int zero = SchemeReference.ZeroPoint(layout, tensor, s);
            ref float x = ref Unsafe.AsRef(in xp[start]);
            Vector256<float> acc = Vector256<float>.Zero;
            float accTail = 0;
            int i = 0;
            switch (scheme.Element)
            {
                case SchemeElement.Fp8E4M3:
                    for (; i <= length - 8; i += 8)
                    {
                        acc += Fp8Vector.DecodeLanes<E4M3Encoding>(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref codes, start + i))) * Vector256.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E4M3Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                case SchemeElement.Fp8E5M2:
                    for (; i <= length - 8; i += 8)
                    {
                        acc += Fp8Vector.DecodeLanes<E5M2Encoding>(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref codes, start + i))) * Vector256.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E5M2Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                default:
                {
                    Vector256<int> z = Vector256.Create(zero);
                    ref byte groupCodes = ref Unsafe.Add(ref codes, start * scheme.Bits / 8);
                    if (scheme.Bits == 4)
                    {
                        // Low nibbles are the even codes of the chunk, high nibbles the odd ones; the activations were
                        // permuted to match (PrepareActivations).
                        Vector256<int> mask = Vector256.Create(0x0F);
                        for (; i <= length - 2 * 8; i += 2 * 8)
                        {
                            Vector256<int> v = SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref groupCodes, i / 2));
                            acc += Vector256.ConvertToSingle((v & mask) - z) * Vector256.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector256.ConvertToSingle((v >>> 4) - z) * Vector256.LoadUnsafe(ref x, (nuint)(i + 8));
                        }
                    }
                    else if (scheme.Bits == 2)
                    {
                        Vector256<int> mask = Vector256.Create(0x03);
                        for (; i <= length - 4 * 8; i += 4 * 8)
                        {
                            Vector256<int> v = SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref groupCodes, i / 4));
                            acc += Vector256.ConvertToSingle((v & mask) - z) * Vector256.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector256.ConvertToSingle(((v >>> 2) & mask) - z) * Vector256.LoadUnsafe(ref x, (nuint)(i + 8));
                            acc += Vector256.ConvertToSingle(((v >>> 4) & mask) - z) * Vector256.LoadUnsafe(ref x, (nuint)(i + 2 * 8));
                            acc += Vector256.ConvertToSingle((v >>> 6) - z) * Vector256.LoadUnsafe(ref x, (nuint)(i + 3 * 8));
                        }
                    }
                    else
                    {
                        // 8 bits read in place; 3, 5, 6 and 7 bits unpacked to one byte per code first.
                        ref byte bytes = ref scheme.Bits == 8
                            ? ref groupCodes
                            : ref MemoryMarshal.GetReference(SchemeKernel.UnpackGroup(scheme.Bits, rowCodes, start, scratch[..length]));
                        for (; i <= length - 8; i += 8)
                        {
                            acc += Vector256.ConvertToSingle(SchemeKernel.WidenToInt32x8(ref Unsafe.Add(ref bytes, i)) - z) * Vector256.LoadUnsafe(ref x, (nuint)i);
                        }
                    }

                    for (; i < length; i++)
                    {
                        accTail += (SchemeCodes.Get(scheme.Bits, rowCodes, start + i) - zero) * Unsafe.Add(ref x, i);
                    }

                    break;
                }
            }

            total += acc * Vector256.Create(scale);
            tail += accTail * scale;
        }

        return Vector256.Sum(total) + tail;
    }

    /// <summary>One row's product with prepared activations on Vector128 (4 lanes).</summary>
    private static float DotRow128(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, Span<byte> scratch)
    {
        QuantScheme scheme = layout.Scheme;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ref byte codes = ref MemoryMarshal.GetReference(rowCodes);
        ReadOnlySpan<byte> scaleBytes = tensor[(int)layout.ScalesOffset..];
        Vector128<float> total = Vector128<float>.Zero;
        float tail = 0;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            int start = g * layout.GroupLength;
            int length = Math.Min(layout.GroupLength, layout.Columns - start);
            long s = layout.ScaleIndex(row, g);
            float scale = SchemeScales.Read(scheme.ScaleType, scaleBytes, s);
            int zero = SchemeReference.ZeroPoint(layout, tensor, s);
            ref float x = ref Unsafe.AsRef(in xp[start]);
            Vector128<float> acc = Vector128<float>.Zero;
            float accTail = 0;
            int i = 0;
            switch (scheme.Element)
            {
                case SchemeElement.Fp8E4M3:
                    for (; i <= length - 4; i += 4)
                    {
                        acc += Fp8Vector.DecodeLanes<E4M3Encoding>(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref codes, start + i))) * Vector128.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E4M3Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                case SchemeElement.Fp8E5M2:
                    for (; i <= length - 4; i += 4)
                    {
                        acc += Fp8Vector.DecodeLanes<E5M2Encoding>(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref codes, start + i))) * Vector128.LoadUnsafe(ref x, (nuint)i);
                    }

                    for (; i < length; i++)
                    {
                        accTail += Fp8Reference.Decode<E5M2Encoding>(rowCodes[start + i]) * Unsafe.Add(ref x, i);
                    }

                    break;
                default:
                {
                    Vector128<int> z = Vector128.Create(zero);
                    ref byte groupCodes = ref Unsafe.Add(ref codes, start * scheme.Bits / 8);
                    if (scheme.Bits == 4)
                    {
                        // Low nibbles are the even codes of the chunk, high nibbles the odd ones; the activations were
                        // permuted to match (PrepareActivations).
                        Vector128<int> mask = Vector128.Create(0x0F);
                        for (; i <= length - 2 * 4; i += 2 * 4)
                        {
                            Vector128<int> v = SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref groupCodes, i / 2));
                            acc += Vector128.ConvertToSingle((v & mask) - z) * Vector128.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector128.ConvertToSingle((v >>> 4) - z) * Vector128.LoadUnsafe(ref x, (nuint)(i + 4));
                        }
                    }
                    else if (scheme.Bits == 2)
                    {
                        Vector128<int> mask = Vector128.Create(0x03);
                        for (; i <= length - 4 * 4; i += 4 * 4)
                        {
                            Vector128<int> v = SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref groupCodes, i / 4));
                            acc += Vector128.ConvertToSingle((v & mask) - z) * Vector128.LoadUnsafe(ref x, (nuint)i);
                            acc += Vector128.ConvertToSingle(((v >>> 2) & mask) - z) * Vector128.LoadUnsafe(ref x, (nuint)(i + 4));
                            acc += Vector128.ConvertToSingle(((v >>> 4) & mask) - z) * Vector128.LoadUnsafe(ref x, (nuint)(i + 2 * 4));
                            acc += Vector128.ConvertToSingle((v >>> 6) - z) * Vector128.LoadUnsafe(ref x, (nuint)(i + 3 * 4));
                        }
                    }
                    else
                    {
                        // 8 bits read in place; 3, 5, 6 and 7 bits unpacked to one byte per code first.
                        ref byte bytes = ref scheme.Bits == 8
                            ? ref groupCodes
                            : ref MemoryMarshal.GetReference(SchemeKernel.UnpackGroup(scheme.Bits, rowCodes, start, scratch[..length]));
                        for (; i <= length - 4; i += 4)
                        {
                            acc += Vector128.ConvertToSingle(SchemeKernel.WidenToInt32x4(ref Unsafe.Add(ref bytes, i)) - z) * Vector128.LoadUnsafe(ref x, (nuint)i);
                        }
                    }

                    for (; i < length; i++)
                    {
                        accTail += (SchemeCodes.Get(scheme.Bits, rowCodes, start + i) - zero) * Unsafe.Add(ref x, i);
                    }

                    break;
                }
            }

            total += acc * Vector128.Create(scale);
            tail += accTail * scale;
        }

        return Vector128.Sum(total) + tail;
    }
}
