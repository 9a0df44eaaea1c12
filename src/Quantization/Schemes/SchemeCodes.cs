using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Quantization.Schemes;

/// <summary>
/// Bit packing of integer codes (docs/formats.md#scheme-layout): a row's codes form one little-endian bit stream, code
/// i in bits [i·bits, (i+1)·bits) — low bits first. For 2, 4 and 8 bits that is 4, 2 and 1 codes per byte with code 0 in
/// the lowest bits, the packing ONNX Runtime's MatMulNBits reads; 3, 5, 6 and 7 bits cross byte boundaries.
/// </summary>
internal static class SchemeCodes
{
    /// <summary>Writes <paramref name="codes"/> (each below 2^bits) as the bit stream starting at code <paramref name="first"/> of <paramref name="row"/>; first · bits is a multiple of 8.</summary>
    public static void Pack(int bits, ReadOnlySpan<byte> codes, Span<byte> row, int first)
    {
        int byteIndex = first * bits / 8;
        if (bits == 8)
        {
            codes.CopyTo(row[byteIndex..]);
            return;
        }

        int packed = bits switch
        {
            4 => PackNibbles(codes, row[byteIndex..]),
            2 => PackPairsOfBits(codes, row[byteIndex..]),
            _ => 0,
        };
        byteIndex += packed * bits / 8;
        uint buffer = 0;
        int filled = 0;
        for (int i = packed; i < codes.Length; i++)
        {
            buffer |= (uint)codes[i] << filled;
            filled += bits;
            while (filled >= 8)
            {
                row[byteIndex++] = (byte)buffer;
                buffer >>= 8;
                filled -= 8;
            }
        }

        if (filled > 0)
        {
            row[byteIndex] = (byte)buffer; // the padding bits of the row's last byte are 0
        }
    }

    /// <summary>Two 4-bit codes per byte, 32 codes per step (the byte pairs as 16-bit lanes); returns the codes packed.</summary>
    private static int PackNibbles(ReadOnlySpan<byte> codes, Span<byte> row)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= codes.Length - 32; i += 32)
            {
                Vector256<ushort> pairs = Vector256.Create(codes.Slice(i, 32)).AsUInt16();
                Vector256<ushort> bytes = (pairs & Vector256.Create((ushort)0x000F)) | (Vector256.ShiftRightLogical(pairs, 4) & Vector256.Create((ushort)0x00F0));
                Vector128<byte> narrow = Vector128.Narrow(bytes.GetLower(), bytes.GetUpper());
                narrow.CopyTo(row.Slice(i / 2, 16));
            }
        }

        return i;
    }

    /// <summary>Four 2-bit codes per byte, 32 codes per step (the byte quads as 32-bit lanes); returns the codes packed.</summary>
    private static int PackPairsOfBits(ReadOnlySpan<byte> codes, Span<byte> row)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= codes.Length - 32; i += 32)
            {
                Vector256<uint> quads = Vector256.Create(codes.Slice(i, 32)).AsUInt32();
                Vector256<uint> bytes = (quads & Vector256.Create(0x03u))
                                        | (Vector256.ShiftRightLogical(quads, 6) & Vector256.Create(0x0Cu))
                                        | (Vector256.ShiftRightLogical(quads, 12) & Vector256.Create(0x30u))
                                        | (Vector256.ShiftRightLogical(quads, 18) & Vector256.Create(0xC0u));
                Vector128<ushort> words = Vector128.Narrow(bytes.GetLower(), bytes.GetUpper());
                BinaryPrimitives.WriteUInt64LittleEndian(row.Slice(i / 4, 8), Vector128.Narrow(words, words).AsUInt64().ToScalar());
            }
        }

        return i;
    }

    /// <summary>Reads code <paramref name="index"/> of a row's bit stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Get(int bits, ReadOnlySpan<byte> row, int index)
    {
        long bit = (long)index * bits;
        int byteIndex = (int)(bit >> 3);
        int shift = (int)(bit & 7);
        int word = row[byteIndex];
        if (shift + bits > 8)
        {
            word |= row[byteIndex + 1] << 8;
        }

        return (word >> shift) & ((1 << bits) - 1);
    }

    /// <summary>Reads <paramref name="codes"/>.Length codes starting at code <paramref name="first"/> of a row's bit stream.</summary>
    public static void Unpack(int bits, ReadOnlySpan<byte> row, int first, Span<byte> codes)
    {
        if (bits == 8)
        {
            row.Slice(first, codes.Length).CopyTo(codes);
            return;
        }

        // Eight codes fill exactly `bits` bytes: read them as one little-endian word while a whole word remains.
        int i = 0;
        int mask = (1 << bits) - 1;
        if ((first & 7) == 0)
        {
            int byteIndex = first / 8 * bits;
            for (; i + 8 <= codes.Length && byteIndex + 8 <= row.Length; i += 8, byteIndex += bits)
            {
                ulong word = BinaryPrimitives.ReadUInt64LittleEndian(row[byteIndex..]);
                for (int k = 0; k < 8; k++)
                {
                    codes[i + k] = (byte)((int)(word >> (k * bits)) & mask);
                }
            }
        }

        for (; i < codes.Length; i++)
        {
            codes[i] = (byte)Get(bits, row, first + i);
        }
    }
}
