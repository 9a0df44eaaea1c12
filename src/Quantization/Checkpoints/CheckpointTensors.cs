using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Quantization.Checkpoints;

/// <summary>Reading the raw little-endian tensors of a checkpoint: lengths checked once, words and bit streams read by index.</summary>
internal static class CheckpointTensors
{
    /// <summary>Throws unless <paramref name="length"/> is exactly <paramref name="expected"/> bytes.</summary>
    public static void ThrowIfWrongLength(int length, long expected, string paramName, string shape)
    {
        if (length != expected)
        {
            ThrowHelper.ThrowArgument(paramName, $"{paramName} has {length} bytes; {shape} takes {expected}.");
        }
    }

    /// <summary>The int32 word at <paramref name="index"/> of a row-major tensor, as unsigned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Word(ReadOnlySpan<byte> words, long index) => BinaryPrimitives.ReadUInt32LittleEndian(words.Slice(checked((int)(index * 4)), 4));

    /// <summary>
    /// Value <paramref name="bitIndex"/> / <paramref name="bits"/> of a column of int32 words read as one little-endian bit
    /// stream (word k of the column is row k of a tensor with <paramref name="stride"/> words per row): bits may cross from
    /// one word into the next, as GPTQ's 3-bit packing does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int StreamValue(ReadOnlySpan<byte> words, int stride, int column, long bitIndex, int bits)
    {
        long word = bitIndex >> 5;
        int shift = (int)(bitIndex & 31);
        ulong value = Word(words, word * stride + column);
        if (shift + bits > 32)
        {
            value |= (ulong)Word(words, (word + 1) * stride + column) << 32;
        }

        return (int)((value >> shift) & ((1u << bits) - 1));
    }
}
