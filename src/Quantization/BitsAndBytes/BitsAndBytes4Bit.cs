using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;
using Quantization.Formats;
using Quantization.Kernels;

namespace Quantization.BitsAndBytes;

/// <summary>
/// bitsandbytes' own 4-bit tensors (<c>bitsandbytes.functional.quantize_4bit</c> / <c>dequantize_4bit</c>), NF4 and FP4:
/// the flattened tensor is cut into blocks of <c>blocksize</c> values (the last one may be partial and has its own
/// absmax), each value is a 4-bit code and two codes share a byte, element 2i in the HIGH nibble of byte i; the
/// float32 absmax of each block is kept apart (<see cref="BitsAndBytesQuantState"/>), optionally double-quantized.
/// </summary>
/// <remarks>
/// <para>Codes are those of bitsandbytes' default (torch) backend, which its CPU backend also runs for
/// <c>quantize_4bit</c>: s = clamp(x · (1 / absmax), −1, 1) in float32 (a multiplication by the float32 reciprocal), then
/// the first code with the smallest float32 |s − value| (NF4: nearest value, ties to the lower value). The one deliberate
/// difference: an all-zero block gets the code of 0.0 (NF4 7, FP4 0) where bitsandbytes' 0 · (1 / 0) = NaN gives code 0;
/// both decode to zero. An odd element count leaves the low nibble of the last byte as padding: it holds the code of
/// 0.0, as bitsandbytes pads, and is ignored when dequantizing.</para>
/// <para>With a block size of 64 and no double quantization, a bitsandbytes tensor is the same data as
/// <see cref="QuantType.NF4"/> / <see cref="QuantType.FP4"/> blocks: <see cref="ToQuantBlocks"/> and
/// <see cref="FromQuantBlocks"/> convert without loss, and quantizing either way gives the same bytes.</para>
/// </remarks>
public static class BitsAndBytes4Bit
{
    /// <summary>bitsandbytes' default block size.</summary>
    public const int DefaultBlockSize = 64;

    /// <summary>The block size bitsandbytes uses for double quantization of the absmax values.</summary>
    public const int NestedBlockSize = 256;

    /// <summary>Bytes of packed codes for <paramref name="elementCount"/> values: ⌈n / 2⌉.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementCount"/> is negative.</exception>
    public static int GetPackedByteCount(int elementCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        return (int)(((long)elementCount + 1) / 2);
    }

    /// <summary>Number of blocks (absmax values) for <paramref name="elementCount"/> values: ⌈n / blockSize⌉.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementCount"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="blockSize"/> is not 32, 64, ..., 4096.</exception>
    public static int GetBlockCount(int elementCount, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        ValidateBlockSize(blockSize);
        return BlockwiseQuantization.BlockCount(elementCount, blockSize);
    }

    /// <summary>
    /// Quantizes <paramref name="source"/> (the flattened tensor) to packed codes and one float32 absmax per block,
    /// as bitsandbytes' <c>quantize_4bit</c> without double quantization.
    /// </summary>
    /// <param name="type"><see cref="QuantType.NF4"/> or <see cref="QuantType.FP4"/>.</param>
    /// <param name="source">The values; every one must be finite.</param>
    /// <param name="packed">At least <see cref="GetPackedByteCount"/> bytes.</param>
    /// <param name="absmax">At least <see cref="GetBlockCount"/> floats.</param>
    /// <param name="blockSize">32, 64, 128, 256, 512, 1024, 2048 or 4096.</param>
    /// <exception cref="ArgumentException">The type, block size or a length is wrong, or a value is NaN or infinite.</exception>
    public static void Quantize(QuantType type, ReadOnlySpan<float> source, Span<byte> packed, Span<float> absmax, int blockSize)
    {
        ValidateQuantize(type, source, packed, blockSize);
        int blocks = BlockwiseQuantization.BlockCount(source.Length, blockSize);
        if (absmax.Length < blocks)
        {
            ThrowHelper.ThrowArgument(nameof(absmax), $"Absmax has room for {absmax.Length} values; {blocks} are needed.");
        }

        QuantizeBlocks(type, source, packed, absmax, blockSize);
    }

    /// <summary>
    /// Quantizes <paramref name="source"/> to packed codes and returns the state bitsandbytes' <c>quantize_4bit</c> would
    /// keep; with <paramref name="compressStatistics"/> the absmax values are double-quantized: offset = their mean,
    /// then absmax − offset in blocks of 256 with the signed 8-bit dynamic code (<see cref="BlockwiseQuantization"/>).
    /// </summary>
    /// <remarks>
    /// The offset is the mean computed in double precision, summing in block order, rounded once to float32. bitsandbytes
    /// uses torch's <c>mean</c> of the float32 absmax tensor (a vectorised, blocked summation), so its offset can differ
    /// from this one by a few units in the last place (relative ≲ 1e-6 for real tensors); the 8-bit codes can then differ
    /// for absmax values that sit on a code boundary. The state carries the offset, so either state dequantizes exactly as
    /// written.
    /// </remarks>
    /// <param name="type"><see cref="QuantType.NF4"/> or <see cref="QuantType.FP4"/>.</param>
    /// <param name="source">The values; every one must be finite.</param>
    /// <param name="packed">At least <see cref="GetPackedByteCount"/> bytes.</param>
    /// <param name="blockSize">32, 64, 128, 256, 512, 1024, 2048 or 4096.</param>
    /// <param name="compressStatistics">Double-quantize the absmax values (bitsandbytes' <c>compress_statistics</c>).</param>
    /// <returns>The state: <see cref="BitsAndBytesQuantState.Absmax"/>, or the double-quantized fields.</returns>
    /// <exception cref="ArgumentException">The type, block size or a length is wrong, or a value is NaN or infinite.</exception>
    public static BitsAndBytesQuantState Quantize(QuantType type, ReadOnlySpan<float> source, Span<byte> packed,
                                                  int blockSize, bool compressStatistics)
    {
        ValidateQuantize(type, source, packed, blockSize);
        var absmax = new float[BlockwiseQuantization.BlockCount(source.Length, blockSize)];
        QuantizeBlocks(type, source, packed, absmax, blockSize);
        if (!compressStatistics)
        {
            return new BitsAndBytesQuantState { QuantType = type, BlockSize = blockSize, ElementCount = source.Length, Absmax = absmax };
        }

        double sum = 0;
        foreach (float a in absmax)
        {
            sum += a;
        }

        float offset = absmax.Length == 0 ? 0f : (float)(sum / absmax.Length);
        var centered = new float[absmax.Length];
        for (int i = 0; i < absmax.Length; i++)
        {
            centered[i] = absmax[i] - offset;
        }

        float[] code = BlockwiseQuantization.CreateDynamicMap(signed: true);
        var q = new byte[absmax.Length];
        var nested = new float[BlockwiseQuantization.BlockCount(absmax.Length, NestedBlockSize)];
        BlockwiseQuantization.Quantize(centered, code, NestedBlockSize, q, nested);
        return new BitsAndBytesQuantState
        {
            QuantType = type,
            BlockSize = blockSize,
            ElementCount = source.Length,
            QuantizedAbsmax = q,
            NestedAbsmax = nested,
            NestedBlockSize = NestedBlockSize,
            NestedOffset = offset,
            NestedCode = code,
        };
    }

    /// <summary>
    /// Dequantizes a bitsandbytes 4-bit tensor: value[code] · absmax[block] in float32, as <c>dequantize_4bit</c>.
    /// The element count is <c>destination.Length</c>.
    /// </summary>
    /// <param name="type"><see cref="QuantType.NF4"/> or <see cref="QuantType.FP4"/>.</param>
    /// <param name="packed">Exactly ⌈n / 2⌉ bytes.</param>
    /// <param name="absmax">Exactly ⌈n / blockSize⌉ floats.</param>
    /// <param name="blockSize">32, 64, 128, 256, 512, 1024, 2048 or 4096.</param>
    /// <param name="destination">The n values.</param>
    /// <exception cref="ArgumentException">The type, block size or a length is wrong.</exception>
    public static void Dequantize(QuantType type, ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, int blockSize, Span<float> destination)
    {
        ValidateType(type);
        ValidateBlockSize(blockSize);
        int n = destination.Length;
        if (packed.Length != GetPackedByteCount(n))
        {
            ThrowHelper.ThrowArgument(nameof(packed), $"Packed has {packed.Length} bytes; {n} values take {GetPackedByteCount(n)}.");
        }

        int blocks = BlockwiseQuantization.BlockCount(n, blockSize);
        if (absmax.Length != blocks)
        {
            ThrowHelper.ThrowArgument(nameof(absmax), $"Absmax has {absmax.Length} values; {n} values in blocks of {blockSize} need {blocks}.");
        }

        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            int count = Math.Min(blockSize, n - start);
            DequantizeBlock(type, packed.Slice(start / 2, (count + 1) / 2), absmax[b], destination.Slice(start, count));
        }
    }

    /// <summary>Dequantizes a bitsandbytes 4-bit tensor described by <paramref name="state"/> (double-quantized or not).</summary>
    /// <param name="packed">Exactly ⌈<see cref="BitsAndBytesQuantState.ElementCount"/> / 2⌉ bytes.</param>
    /// <param name="state">The type, block size, element count and absmax values.</param>
    /// <param name="destination">At least <see cref="BitsAndBytesQuantState.ElementCount"/> floats.</param>
    /// <exception cref="ArgumentException">The state is inconsistent or a length is wrong.</exception>
    public static void Dequantize(ReadOnlySpan<byte> packed, BitsAndBytesQuantState state, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Validate();
        if (destination.Length < state.ElementCount)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {state.ElementCount} are needed.");
        }

        if (packed.Length != GetPackedByteCount(state.ElementCount))
        {
            ThrowHelper.ThrowArgument(nameof(packed), $"Packed has {packed.Length} bytes; {state.ElementCount} values take {GetPackedByteCount(state.ElementCount)}.");
        }

        using SpanOwner<float> absmax = SpanOwner<float>.Allocate(state.BlockCount);
        state.GetAbsmax(absmax.Span);
        Dequantize(state.QuantType, packed, absmax.Span, state.BlockSize, destination[..state.ElementCount]);
    }

    /// <summary>
    /// Converts a bitsandbytes tensor with block size 64 (not double-quantized) into <see cref="QuantType.NF4"/> /
    /// <see cref="QuantType.FP4"/> blocks (absmax, then the block's 32 packed bytes): a copy, no value changes.
    /// </summary>
    /// <param name="packed">32 bytes per block: <c>32 · absmax.Length</c>.</param>
    /// <param name="absmax">One float32 per block of 64 values.</param>
    /// <param name="destination">At least <c>36 · absmax.Length</c> bytes.</param>
    /// <exception cref="ArgumentException">A length is wrong (the element count must be a multiple of 64).</exception>
    public static void ToQuantBlocks(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, Span<byte> destination)
    {
        if (packed.Length != (long)absmax.Length * 32)
        {
            ThrowHelper.ThrowArgument(nameof(packed), $"Packed has {packed.Length} bytes; {absmax.Length} whole blocks of 64 values take {(long)absmax.Length * 32}.");
        }

        if (destination.Length < (long)absmax.Length * BlockNF4.Size)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {(long)absmax.Length * BlockNF4.Size} are needed.");
        }

        Span<BlockNF4> blocks = MemoryMarshal.Cast<byte, BlockNF4>(destination);
        for (int i = 0; i < absmax.Length; i++)
        {
            blocks[i].Absmax = absmax[i];
            packed.Slice(i * 32, 32).CopyTo(blocks[i].Qs);
        }
    }

    /// <summary>
    /// Converts <see cref="QuantType.NF4"/> / <see cref="QuantType.FP4"/> blocks into a bitsandbytes tensor with block
    /// size 64: packed codes and one float32 absmax per block. A copy, no value changes.
    /// </summary>
    /// <param name="source">Whole blocks of 36 bytes.</param>
    /// <param name="packed">At least 32 bytes per block.</param>
    /// <param name="absmax">At least one float per block.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public static void FromQuantBlocks(ReadOnlySpan<byte> source, Span<byte> packed, Span<float> absmax)
    {
        if (source.Length % BlockNF4.Size != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"Source length {source.Length} is not a whole number of 36-byte blocks.");
        }

        int blocks = source.Length / BlockNF4.Size;
        if (packed.Length < blocks * 32L)
        {
            ThrowHelper.ThrowArgument(nameof(packed), $"Packed has {packed.Length} bytes; {blocks * 32L} are needed.");
        }

        if (absmax.Length < blocks)
        {
            ThrowHelper.ThrowArgument(nameof(absmax), $"Absmax has room for {absmax.Length} values; {blocks} are needed.");
        }

        ReadOnlySpan<BlockNF4> x = MemoryMarshal.Cast<byte, BlockNF4>(source);
        for (int i = 0; i < blocks; i++)
        {
            absmax[i] = x[i].Absmax;
            ((ReadOnlySpan<byte>)x[i].Qs).CopyTo(packed.Slice(i * 32, 32));
        }
    }

    internal static void ValidateType(QuantType type)
    {
        if (type is not (QuantType.NF4 or QuantType.FP4))
        {
            ThrowHelper.ThrowArgument(nameof(type), $"bitsandbytes 4-bit tensors are NF4 or FP4, not {type}.");
        }
    }

    internal static void ValidateBlockSize(int blockSize)
    {
        if (blockSize is < 32 or > 4096 || (blockSize & (blockSize - 1)) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(blockSize), $"Block size {blockSize} is not one of bitsandbytes' 32, 64, 128, 256, 512, 1024, 2048, 4096.");
        }
    }

    private static void ValidateQuantize(QuantType type, ReadOnlySpan<float> source, Span<byte> packed, int blockSize)
    {
        ValidateType(type);
        ValidateBlockSize(blockSize);
        if (packed.Length < GetPackedByteCount(source.Length))
        {
            ThrowHelper.ThrowArgument(nameof(packed), $"Packed has {packed.Length} bytes; {source.Length} values take {GetPackedByteCount(source.Length)}.");
        }

        FiniteCheck.ThrowIfNotFinite(source, nameof(source));
    }

    private static void QuantizeBlocks(QuantType type, ReadOnlySpan<float> source, Span<byte> packed, Span<float> absmax, int blockSize)
    {
        int blocks = BlockwiseQuantization.BlockCount(source.Length, blockSize);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            int count = Math.Min(blockSize, source.Length - start);
            absmax[b] = QuantizeBlock(type, source.Slice(start, count), packed.Slice(start / 2, (count + 1) / 2));
        }
    }

    private static float QuantizeBlock(QuantType type, ReadOnlySpan<float> x, Span<byte> packed) => type == QuantType.NF4
        ? FourBitVector<Nf4Code>.IsSupported ? FourBitVector<Nf4Code>.QuantizeBlock(x, packed) : FourBitReference<Nf4Code>.QuantizeBlock(x, packed)
        : FourBitVector<Fp4Code>.IsSupported ? FourBitVector<Fp4Code>.QuantizeBlock(x, packed) : FourBitReference<Fp4Code>.QuantizeBlock(x, packed);

    private static void DequantizeBlock(QuantType type, ReadOnlySpan<byte> packed, float absmax, Span<float> y)
    {
        if (type == QuantType.NF4)
        {
            if (FourBitVector<Nf4Code>.IsSupported)
            {
                FourBitVector<Nf4Code>.DequantizeBlock(packed, absmax, y);
            }
            else
            {
                FourBitReference<Nf4Code>.DequantizeBlock(packed, absmax, y);
            }
        }
        else if (FourBitVector<Fp4Code>.IsSupported)
        {
            FourBitVector<Fp4Code>.DequantizeBlock(packed, absmax, y);
        }
        else
        {
            FourBitReference<Fp4Code>.DequantizeBlock(packed, absmax, y);
        }
    }
}
