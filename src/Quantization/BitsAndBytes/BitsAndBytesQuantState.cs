namespace Quantization.BitsAndBytes;

/// <summary>
/// What bitsandbytes keeps beside a packed 4-bit tensor (its <c>QuantState</c>): the code book, the block size, the
/// element count and the per-block absmax, either as float32 values or double-quantized ("compress_statistics":
/// 8-bit codes, a float32 absmax per <see cref="NestedBlockSize"/> blocks, an offset and the 8-bit code).
/// </summary>
/// <remarks>
/// Field by field as bitsandbytes serializes it: <c>quant_type</c> = <see cref="QuantType"/>, <c>blocksize</c> =
/// <see cref="BlockSize"/>, <c>shape</c> (its product) = <see cref="ElementCount"/>; without double quantization
/// <c>absmax</c> = <see cref="Absmax"/>; with it <c>absmax</c> (uint8) = <see cref="QuantizedAbsmax"/>,
/// <c>nested_absmax</c> = <see cref="NestedAbsmax"/>, <c>nested_blocksize</c> = <see cref="NestedBlockSize"/>,
/// <c>nested_offset</c> = <see cref="NestedOffset"/>, <c>nested_quant_map</c> = <see cref="NestedCode"/>.
/// The memories are referenced, not copied; an absent field is empty.
/// </remarks>
public sealed class BitsAndBytesQuantState
{
    /// <summary><see cref="Quantization.QuantType.NF4"/> or <see cref="Quantization.QuantType.FP4"/>.</summary>
    public required QuantType QuantType { get; init; }

    /// <summary>Values per block of the flattened tensor: 32, 64, 128, ..., 4096 (bitsandbytes' default is 64).</summary>
    public required int BlockSize { get; init; }

    /// <summary>Number of values of the tensor (the product of its shape).</summary>
    public required int ElementCount { get; init; }

    /// <summary>One float32 absmax per block; empty when double-quantized.</summary>
    public ReadOnlyMemory<float> Absmax { get; init; }

    /// <summary>Double quantization: one 8-bit code per block for absmax − <see cref="NestedOffset"/>.</summary>
    public ReadOnlyMemory<byte> QuantizedAbsmax { get; init; }

    /// <summary>Double quantization: one float32 absmax per <see cref="NestedBlockSize"/> entries of <see cref="QuantizedAbsmax"/>.</summary>
    public ReadOnlyMemory<float> NestedAbsmax { get; init; }

    /// <summary>Double quantization: the block size of the 8-bit absmax codes (bitsandbytes uses 256).</summary>
    public int NestedBlockSize { get; init; } = 256;

    /// <summary>Double quantization: the mean of the absmax values, subtracted before the 8-bit quantization.</summary>
    public float NestedOffset { get; init; }

    /// <summary>Double quantization: the 256-value 8-bit code (<see cref="BlockwiseQuantization.CreateDynamicMap(bool)"/>).</summary>
    public ReadOnlyMemory<float> NestedCode { get; init; }

    /// <summary>Whether the absmax values are double-quantized.</summary>
    public bool IsNested => !QuantizedAbsmax.IsEmpty;

    /// <summary>Number of 4-bit blocks: ⌈<see cref="ElementCount"/> / <see cref="BlockSize"/>⌉.</summary>
    public int BlockCount => BlockwiseQuantization.BlockCount(ElementCount, BlockSize);

    /// <summary>
    /// The float32 absmax of every block: <see cref="Absmax"/> as is, or, double-quantized,
    /// code[q[i]] · nestedAbsmax[i / nestedBlockSize] + offset, each operation rounded to float32 (no fused multiply-add),
    /// as bitsandbytes' <c>dequantize_blockwise</c> followed by <c>absmax += offset</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The state is inconsistent (a missing array or a wrong length).</exception>
    public float[] GetAbsmax()
    {
        Validate();
        var absmax = new float[BlockCount];
        WriteAbsmax(absmax);
        return absmax;
    }

    /// <summary>Writes what <see cref="GetAbsmax()"/> returns into <paramref name="destination"/>, a buffer the caller owns.</summary>
    /// <param name="destination">At least <see cref="BlockCount"/> values.</param>
    /// <exception cref="ArgumentException">The state is inconsistent, or <paramref name="destination"/> is too small.</exception>
    public void GetAbsmax(Span<float> destination)
    {
        Validate();
        if (destination.Length < BlockCount)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {BlockCount} blocks need one each.");
        }

        WriteAbsmax(destination[..BlockCount]);
    }

    private void WriteAbsmax(Span<float> absmax)
    {
        if (!IsNested)
        {
            Absmax.Span[..absmax.Length].CopyTo(absmax);
            return;
        }

        BlockwiseQuantization.Dequantize(QuantizedAbsmax.Span, NestedAbsmax.Span, NestedCode.Span, NestedBlockSize, absmax);
        for (int i = 0; i < absmax.Length; i++)
        {
            absmax[i] += NestedOffset;
        }
    }

    /// <summary>Checks the type, block sizes and array lengths.</summary>
    internal void Validate()
    {
        BitsAndBytes4Bit.ValidateType(QuantType);
        BitsAndBytes4Bit.ValidateBlockSize(BlockSize);
        if (ElementCount < 0)
        {
            ThrowHelper.ThrowArgument("state", $"ElementCount {ElementCount} is negative.");
        }

        int blocks = BlockCount;
        if (!IsNested)
        {
            if (Absmax.Length != blocks)
            {
                ThrowHelper.ThrowArgument("state", $"Absmax has {Absmax.Length} values; {blocks} blocks need one each.");
            }

            return;
        }

        if (QuantizedAbsmax.Length != blocks)
        {
            ThrowHelper.ThrowArgument("state", $"QuantizedAbsmax has {QuantizedAbsmax.Length} codes; {blocks} blocks need one each.");
        }

        if (NestedBlockSize <= 0)
        {
            ThrowHelper.ThrowArgument("state", $"NestedBlockSize {NestedBlockSize} is not positive.");
        }

        int nested = BlockwiseQuantization.BlockCount(blocks, NestedBlockSize);
        if (NestedAbsmax.Length != nested)
        {
            ThrowHelper.ThrowArgument("state", $"NestedAbsmax has {NestedAbsmax.Length} values; {nested} are needed.");
        }

        if (NestedCode.Length != 256)
        {
            ThrowHelper.ThrowArgument("state", $"NestedCode has {NestedCode.Length} values; an 8-bit code has 256.");
        }
    }
}
