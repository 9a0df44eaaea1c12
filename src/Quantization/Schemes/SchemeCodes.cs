using System.Buffers.Binary;
using System.Runtime.CompilerServices;

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

        uint buffer = 0;
        int filled = 0;
        for (int i = 0; i < codes.Length; i++)
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
