using System.Buffers.Binary;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// An AutoAWQ GEMM linear layer (<c>qweight</c>, <c>qzeros</c>, <c>scales</c>; 4 bits) as a matrix of
/// <c>outFeatures</c> rows × <c>inFeatures</c> columns that multiplies without materialising float weights
/// (docs/formats.md#awq).
/// </summary>
/// <remarks>
/// Repacked once, at construction, into an asymmetric 4-bit group <see cref="QuantScheme"/> (codes row by row, the
/// checkpoint's scales widened exactly to float32, one zero-point byte per group): 2.5 bytes more per group than the
/// checkpoint (+4 % at groups of 128), the input tensors not referenced afterwards. Weights dequantize as (code − zero) · scale, exactly in float32; products sum each group in
/// float32 and scale it once (on AVX-512 and AVX2 the 16 possible weights of a group are looked up by lane permutes).
/// </remarks>
public sealed class AwqMatrix : IWeightMatrix
{
    /// <summary>Bits per weight of AutoAWQ's GEMM layout.</summary>
    public const int Bits = 4;

    /// <summary>The nibble of an int32 word that holds output (8k + j): AutoAWQ's pack puts output 8k + order[i] in nibble i, order = 0, 2, 4, 6, 1, 3, 5, 7.</summary>
    private static ReadOnlySpan<byte> NibbleOfOutput => [0, 4, 1, 5, 2, 6, 3, 7];

    private readonly PermutedSchemeMatrix _matrix;

    /// <summary>Reads an AWQ GEMM layer's tensors (raw little-endian bytes, as a safetensors file stores them).</summary>
    /// <param name="groupSize">Inputs per scale (<c>q_group_size</c>, <see cref="AwqConfig.GroupSize"/>), or −1 for the whole input.</param>
    /// <param name="inFeatures">Inputs (columns): a positive multiple of the group size.</param>
    /// <param name="outFeatures">Outputs (rows): a positive multiple of 8.</param>
    /// <param name="qweight">int32 [inFeatures, outFeatures / 8], eight outputs per word in AutoAWQ's interleaved nibble order.</param>
    /// <param name="qzeros">int32 [groups, outFeatures / 8], the same order.</param>
    /// <param name="scales">[groups, outFeatures] in <paramref name="scaleType"/>.</param>
    /// <param name="scaleType">The scales' type (F16 in AWQ checkpoints).</param>
    /// <exception cref="ArgumentException">A size does not match the shape, or the group size has no scheme (a multiple of 8 from 16 to 4096, or the whole input).</exception>
    public AwqMatrix(int groupSize, int inFeatures, int outFeatures, ReadOnlySpan<byte> qweight, ReadOnlySpan<byte> qzeros, ReadOnlySpan<byte> scales,
                     SchemeScaleType scaleType = SchemeScaleType.F16)
    {
        if (inFeatures <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "inFeatures must be positive.");
        }

        if (outFeatures <= 0 || outFeatures % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "AWQ packs eight outputs per int32 word: outFeatures is a positive multiple of 8.");
        }

        if (groupSize is 0 or < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "The group size is positive, or -1 for the whole input.");
        }

        int group = groupSize == -1 ? inFeatures : groupSize;
        if (inFeatures % group != 0)
        {
            ThrowHelper.ThrowArgument(nameof(inFeatures), $"inFeatures ({inFeatures}) is not a multiple of the group size {group}.");
        }

        int groups = inFeatures / group;
        int words = outFeatures / 8;
        if (!Enum.IsDefined(scaleType))
        {
            throw new ArgumentOutOfRangeException(nameof(scaleType), scaleType, "Not a defined scale type.");
        }

        QuantScheme scheme = GroupScheme.Create(Bits, group, inFeatures, SchemeScaleType.F32, nameof(groupSize));
        int scaleBytes = scaleType == SchemeScaleType.F32 ? 4 : 2;
        CheckpointTensors.ThrowIfWrongLength(qweight.Length, (long)inFeatures * words * 4, nameof(qweight), $"int32 [{inFeatures}, {words}]");
        CheckpointTensors.ThrowIfWrongLength(qzeros.Length, (long)groups * words * 4, nameof(qzeros), $"int32 [{groups}, {words}]");
        CheckpointTensors.ThrowIfWrongLength(scales.Length, (long)groups * outFeatures * scaleBytes, nameof(scales), $"{scaleType} [{groups}, {outFeatures}]");

        SchemeLayout layout = SchemeLayout.Create(scheme, outFeatures, inFeatures);
        byte[] packed = new byte[layout.TotalBytes];
        Span<byte> codes = new byte[inFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            int word = o / 8;
            int shift = 4 * NibbleOfOutput[o % 8];
            for (int i = 0; i < inFeatures; i++)
            {
                codes[i] = (byte)((CheckpointTensors.Word(qweight, (long)i * words + word) >> shift) & 0xF);
            }

            SchemeCodes.Pack(Bits, codes, packed.AsSpan((int)(o * (long)layout.RowCodeBytes), layout.RowCodeBytes), 0);
            for (int g = 0; g < groups; g++)
            {
                long s = layout.ScaleIndex(o, g);
                float scale = SchemeScales.Read(scaleType, scales, (long)g * outFeatures + o); // F16 and BF16 widen exactly
                BinaryPrimitives.WriteSingleLittleEndian(packed.AsSpan((int)(layout.ScalesOffset + s * 4), 4), scale);
                packed[layout.ZeroPointsOffset + s] = (byte)((CheckpointTensors.Word(qzeros, (long)g * words + word) >> shift) & 0xF);
            }
        }

        _matrix = new PermutedSchemeMatrix(new SchemeMatrix(scheme, packed, outFeatures, inFeatures), null);
        GroupSize = group;
    }

    /// <summary>Inputs per scale.</summary>
    public int GroupSize { get; }

    /// <summary>Rows (outputs).</summary>
    public int Rows => _matrix.Matrix.Rows;

    /// <summary>Columns (inputs).</summary>
    public int Columns => _matrix.Matrix.Columns;

    /// <summary>y = W · x.</summary>
    /// <remarks>
    /// With groups of a multiple of 32, on processors with AVX2 the activations are first quantized to 8 bits per 32 (as the GGUF formats'
    /// integer products do) and each chunk's sum is exact in integers; elsewhere they stay in float, as in
    /// <see cref="MatVecAccurate"/>.
    /// </remarks>
    /// <param name="x"><see cref="Columns"/> inputs.</param>
    /// <param name="y"><see cref="Rows"/> outputs.</param>
    /// <param name="maxDegreeOfParallelism">-1 for every core, or a positive thread count.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => _matrix.MatMul(x, y, 1, maxDegreeOfParallelism, accurate: false);

    /// <summary>y[b] = W · x[b] for each of <paramref name="batch"/> inputs, with <see cref="MatVec"/>'s arithmetic.</summary>
    /// <param name="x"><paramref name="batch"/> · <see cref="Columns"/> inputs.</param>
    /// <param name="y"><paramref name="batch"/> · <see cref="Rows"/> outputs.</param>
    /// <param name="batch">The number of input vectors.</param>
    /// <param name="maxDegreeOfParallelism">-1 for every core, or a positive thread count.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1) => _matrix.MatMul(x, y, batch, maxDegreeOfParallelism, accurate: false);

    /// <summary>y = W · x with the activations kept in float: each group's Σ (code − zero) · x in float32, scaled once.</summary>
    /// <param name="x"><see cref="Columns"/> inputs.</param>
    /// <param name="y"><see cref="Rows"/> outputs.</param>
    /// <param name="maxDegreeOfParallelism">-1 for every core, or a positive thread count.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatVecAccurate(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => _matrix.MatMul(x, y, 1, maxDegreeOfParallelism, accurate: true);

    /// <summary>y[b] = W · x[b] for each of <paramref name="batch"/> inputs, with <see cref="MatVecAccurate"/>'s arithmetic.</summary>
    /// <param name="x"><paramref name="batch"/> · <see cref="Columns"/> inputs.</param>
    /// <param name="y"><paramref name="batch"/> · <see cref="Rows"/> outputs.</param>
    /// <param name="batch">The number of input vectors.</param>
    /// <param name="maxDegreeOfParallelism">-1 for every core, or a positive thread count.</param>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public void MatMulAccurate(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1) => _matrix.MatMul(x, y, batch, maxDegreeOfParallelism, accurate: true);

    /// <summary>The float weights, <see cref="Rows"/> × <see cref="Columns"/> row-major: (code − zero) · scale.</summary>
    /// <param name="destination">At least <see cref="Rows"/> · <see cref="Columns"/> values.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Dequantize(Span<float> destination)
    {
        long count = (long)Rows * Columns;
        if (destination.Length < count)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has room for {destination.Length} values; {Rows} × {Columns} need {count}.");
        }

        _matrix.Dequantize(destination);
    }

    /// <summary>The layer as a <see cref="QuantScheme"/> tensor (<see cref="SchemeQuantizer"/>'s layout) with the same values.</summary>
    /// <param name="weights">The repacked bytes; not to be modified.</param>
    /// <returns>The asymmetric 4-bit group (or row) scheme.</returns>
    public QuantScheme GetScheme(out ReadOnlyMemory<byte> weights)
    {
        weights = _matrix.Matrix.Weights;
        return _matrix.Matrix.Scheme;
    }
}
