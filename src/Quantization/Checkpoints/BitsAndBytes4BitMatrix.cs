using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;
using CommunityToolkit.HighPerformance.Helpers;
using Quantization.BitsAndBytes;

namespace Quantization.Checkpoints;

/// <summary>
/// A bitsandbytes 4-bit weight (NF4 or FP4, a <c>Linear4bit</c> layer as saved: <c>weight</c>, <c>weight.absmax</c>,
/// <c>weight.quant_map</c>, optionally <c>weight.nested_absmax</c> and <c>weight.nested_quant_map</c>, and the JSON
/// state) as a matrix that multiplies without materialising float weights (docs/formats.md#bitsandbytes-checkpoints).
/// </summary>
/// <remarks>
/// <para>The packed codes are referenced in place, not copied (the flattened tensor, element 2i in the high nibble of
/// byte i, blocks of <c>blocksize</c> values that may straddle rows). At construction the absmax values are resolved once
/// to float32 (double-quantized ones as bitsandbytes' <c>dequantize_blockwise</c> plus the offset): without double
/// quantization the state's float32 array itself is used, when it is a whole array (the checkpoint's own size; it must
/// not change afterwards); with it 4 bytes per block beside the 8-bit codes the state keeps,
/// about 12 % over the checkpoint at block size 64.</para>
/// <para>The weight is quant_map[code] · absmax in float32. The scalar product sums, per block piece of a row,
/// quant_map[code] · x in float32 in column order and adds the piece's sum times its absmax. With AVX-512 or AVX2 and rows
/// of a multiple of 32 columns, 16 codes at a time are looked up in the code book by a lane permute and summed per lane
/// (fused multiply-add), each chunk of 32 scaled by its absmax: the same terms in another order.</para>
/// </remarks>
public sealed unsafe class BitsAndBytes4BitMatrix : IWeightMatrix
{
    private readonly float[] _absmax;
    private readonly float[] _codebook;

    /// <summary>Wraps an in-memory bitsandbytes tensor of <paramref name="rows"/> × <paramref name="columns"/> values.</summary>
    /// <param name="packed">⌈rows · columns / 2⌉ bytes of codes; referenced, not copied.</param>
    /// <param name="state">The tensor's state; its element count must be rows · columns.</param>
    /// <param name="rows">Rows (outputs).</param>
    /// <param name="columns">Columns (inputs).</param>
    /// <exception cref="ArgumentException">The state is inconsistent or a size does not match the shape.</exception>
    public BitsAndBytes4BitMatrix(ReadOnlyMemory<byte> packed, BitsAndBytesQuantState state, int rows, int columns)
        : this(packed, state, rows, columns, null)
    {
    }

    private BitsAndBytes4BitMatrix(ReadOnlyMemory<byte> packed, BitsAndBytesQuantState state, int rows, int columns, float[]? codebook)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (rows <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "rows must be positive.");
        }

        if (columns <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, "columns must be positive.");
        }

        if (state.ElementCount != (long)rows * columns)
        {
            ThrowHelper.ThrowArgument(nameof(state), $"The state describes {state.ElementCount} values; {rows} × {columns} is {(long)rows * columns}.");
        }

        CheckpointTensors.ThrowIfWrongLength(packed.Length, ((long)rows * columns + 1) / 2, nameof(packed), $"{rows} × {columns} 4-bit codes");
        state.Validate();
        _absmax = !state.IsNested && MemoryMarshal.TryGetArray(state.Absmax, out ArraySegment<float> own) && own.Offset == 0
                  && own.Array!.Length == state.BlockCount
            ? own.Array // the state's own float32 array: no second copy
            : state.GetAbsmax();
        _codebook = codebook ?? DefaultCodebook(state.QuantType);
        Packed = packed;
        QuantState = state;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>The packed codes.</summary>
    public ReadOnlyMemory<byte> Packed { get; }

    /// <summary>The tensor's state (type, block size, absmax values).</summary>
    public BitsAndBytesQuantState QuantState { get; }

    /// <summary>Rows (outputs).</summary>
    public int Rows { get; }

    /// <summary>Columns (inputs).</summary>
    public int Columns { get; }

    /// <summary>The 16 values the codes stand for (the checkpoint's <c>quant_map</c>).</summary>
    public ReadOnlySpan<float> Codebook => _codebook;

    /// <summary>
    /// Reads a saved <c>Linear4bit</c> weight (raw little-endian tensor bytes, as a safetensors file stores them).
    /// </summary>
    /// <param name="weight">The packed uint8 <c>weight</c> (any saved shape; ⌈n / 2⌉ bytes); referenced, not copied.</param>
    /// <param name="quantState">The <c>weight.quant_state.bitsandbytes__nf4</c> / <c>__fp4</c> U8 tensor (UTF-8 JSON).</param>
    /// <param name="absmax"><c>weight.absmax</c>: F32 per block, or U8 per block when double-quantized.</param>
    /// <param name="quantMap"><c>weight.quant_map</c>: 16 F32 values.</param>
    /// <param name="nestedAbsmax"><c>weight.nested_absmax</c> (F32), when double-quantized.</param>
    /// <param name="nestedQuantMap"><c>weight.nested_quant_map</c> (256 F32), when double-quantized.</param>
    /// <returns>The matrix, [shape[0], product of the rest of the shape].</returns>
    /// <exception cref="InvalidDataException">The JSON state is malformed.</exception>
    /// <exception cref="ArgumentException">A tensor's size does not match the state, or the state's shape is not two-dimensional.</exception>
    public static BitsAndBytes4BitMatrix FromCheckpoint(ReadOnlyMemory<byte> weight, ReadOnlySpan<byte> quantState, ReadOnlySpan<byte> absmax, ReadOnlySpan<byte> quantMap,
                                                        ReadOnlySpan<byte> nestedAbsmax = default, ReadOnlySpan<byte> nestedQuantMap = default)
    {
        BitsAndBytesCheckpointState json = BitsAndBytesCheckpointState.Parse(quantState);
        if (json.Shape.Count != 2 || json.Shape[0] == 0 || json.Shape[1] == 0 || json.ElementCount > int.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(quantState), $"The state's shape [{string.Join(", ", json.Shape)}] is not a two-dimensional weight.");
        }

        BitsAndBytes4Bit.ValidateBlockSize(json.BlockSize);
        int rows = json.Shape[0];
        int columns = json.Shape[1];
        int blocks = (int)((json.ElementCount + json.BlockSize - 1) / json.BlockSize);
        CheckpointTensors.ThrowIfWrongLength(quantMap.Length, 16 * 4, nameof(quantMap), "F32 [16]");
        float[] codebook = MemoryMarshal.Cast<byte, float>(quantMap).ToArray();
        BitsAndBytesQuantState state;
        if (json.IsNested)
        {
            if (json.NestedBlockSize <= 0)
            {
                throw new InvalidDataException($"nested_blocksize is {json.NestedBlockSize}.");
            }

            int nestedBlocks = (blocks + json.NestedBlockSize - 1) / json.NestedBlockSize;
            CheckpointTensors.ThrowIfWrongLength(absmax.Length, blocks, nameof(absmax), $"U8 [{blocks}]");
            CheckpointTensors.ThrowIfWrongLength(nestedAbsmax.Length, (long)nestedBlocks * 4, nameof(nestedAbsmax), $"F32 [{nestedBlocks}]");
            CheckpointTensors.ThrowIfWrongLength(nestedQuantMap.Length, 256 * 4, nameof(nestedQuantMap), "F32 [256]");
            state = new BitsAndBytesQuantState
            {
                QuantType = json.QuantType,
                BlockSize = json.BlockSize,
                ElementCount = (int)json.ElementCount,
                QuantizedAbsmax = absmax.ToArray(),
                NestedAbsmax = MemoryMarshal.Cast<byte, float>(nestedAbsmax).ToArray(),
                NestedBlockSize = json.NestedBlockSize,
                NestedOffset = json.NestedOffset,
                NestedCode = MemoryMarshal.Cast<byte, float>(nestedQuantMap).ToArray(),
            };
        }
        else
        {
            CheckpointTensors.ThrowIfWrongLength(absmax.Length, (long)blocks * 4, nameof(absmax), $"F32 [{blocks}]");
            state = new BitsAndBytesQuantState
            {
                QuantType = json.QuantType,
                BlockSize = json.BlockSize,
                ElementCount = (int)json.ElementCount,
                Absmax = MemoryMarshal.Cast<byte, float>(absmax).ToArray(),
            };
        }

        return new BitsAndBytes4BitMatrix(weight, state, rows, columns, codebook);
    }

    /// <inheritdoc/>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => MatMul(x, y, 1, maxDegreeOfParallelism);

    /// <inheritdoc/>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1)
    {
        if (batch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must not be negative.");
        }

        if (maxDegreeOfParallelism is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use a positive thread count or -1.");
        }

        if (x.Length != (long)batch * Columns)
        {
            ThrowHelper.ThrowArgument(nameof(x), $"x has {x.Length} values; {batch} row(s) of {Columns} columns take {(long)batch * Columns}.");
        }

        if (y.Length < (long)batch * Rows)
        {
            ThrowHelper.ThrowArgument(nameof(y), $"y has room for {y.Length} values; {batch} row(s) of {Rows} results need {(long)batch * Rows}.");
        }

        if (batch == 0)
        {
            return;
        }

        int threads = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        int parts = Math.Max(1, Math.Min(threads, Rows / 16));
        bool vector = BitsAndBytes4BitDot.Supports(Columns);
        using SpanOwner<float> prepared = SpanOwner<float>.Allocate(vector ? batch * Columns : 0);
        if (vector)
        {
            for (int b = 0; b < batch; b++)
            {
                BitsAndBytes4BitDot.PrepareActivations(x.Slice(b * Columns, Columns), prepared.Span.Slice(b * Columns, Columns));
            }
        }

        fixed (byte* packed = Packed.Span)
        fixed (float* absmax = _absmax)
        fixed (float* codebook = _codebook)
        fixed (float* xp = vector ? prepared.Span : x)
        fixed (float* yp = y)
        {
            var work = new RowProducts(packed, absmax, codebook, xp, yp, Rows, Columns, QuantState.BlockSize, batch, parts, vector);
            if (parts == 1)
            {
                work.Invoke(0);
            }
            else
            {
                ParallelHelper.For(0, parts, in work, minimumActionsPerThread: 1);
            }
        }
    }

    /// <summary>The float weights, <see cref="Rows"/> × <see cref="Columns"/> row-major: quant_map[code] · absmax.</summary>
    /// <param name="destination">At least <see cref="Rows"/> · <see cref="Columns"/> values.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Dequantize(Span<float> destination)
    {
        long count = (long)Rows * Columns;
        if (destination.Length < count)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has room for {destination.Length} values; {Rows} × {Columns} need {count}.");
        }

        ReadOnlySpan<byte> packed = Packed.Span;
        int blockSize = QuantState.BlockSize;
        for (int e = 0; e < count; e++)
        {
            int b = packed[e >> 1];
            int code = (e & 1) == 0 ? b >> 4 : b & 0x0F;
            destination[e] = _codebook[code] * _absmax[e / blockSize];
        }
    }

    private static float[] DefaultCodebook(QuantType type)
    {
        // The code values as the library's bitsandbytes dequantizer reads them: one block of absmax 1 holding codes 0 … 15.
        Span<byte> packed = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        var values = new float[16];
        BitsAndBytes4Bit.Dequantize(type, packed, [1f], 64, values);
        return values;
    }

    private readonly struct RowProducts(byte* packed, float* absmax, float* codebook, float* x, float* y, int rows, int columns, int blockSize, int batch, int parts,
                                        bool vector)
        : IAction
    {
        public void Invoke(int part)
        {
            int first = (int)((long)rows * part / parts);
            int end = (int)((long)rows * (part + 1) / parts);
            int blockShift = BitsAndBytes4BitDot.BlockShift(blockSize);
            for (int r = first; r < end; r++)
            {
                long flat = (long)r * columns;
                for (int b = 0; b < batch; b++)
                {
                    y[(long)b * rows + r] = vector
                        ? BitsAndBytes4BitDot.DotRow(packed + flat / 2, x + (long)b * columns, absmax, codebook, flat, columns, blockShift)
                        : Dot(r, x + (long)b * columns);
                }
            }
        }

        private float Dot(int row, float* xRow)
        {
            long flat = (long)row * columns;
            float total = 0;
            int c = 0;
            while (c < columns)
            {
                long block = (flat + c) / blockSize;
                int pieceEnd = (int)Math.Min(columns, (block + 1) * blockSize - flat);
                float sum = 0;
                if (((flat + c) & 1) != 0)
                {
                    sum += codebook[packed[(flat + c) >> 1] & 0x0F] * xRow[c];
                    c++;
                }

                for (; c + 1 < pieceEnd; c += 2)
                {
                    int pair = packed[(flat + c) >> 1];
                    sum += codebook[pair >> 4] * xRow[c];
                    sum += codebook[pair & 0x0F] * xRow[c + 1];
                }

                if (c < pieceEnd)
                {
                    sum += codebook[packed[(flat + c) >> 1] >> 4] * xRow[c];
                    c++;
                }

                total += sum * absmax[block];
            }

            return total;
        }
    }
}
