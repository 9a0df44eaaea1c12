using System.Buffers.Binary;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// A GPTQ linear layer (auto-gptq / GPTQModel: <c>qweight</c>, <c>qzeros</c>, <c>scales</c>, <c>g_idx</c>) as a matrix
/// of <c>outFeatures</c> rows × <c>inFeatures</c> columns that multiplies without materialising float weights
/// (docs/formats.md#gptq).
/// </summary>
/// <remarks>
/// <para>Repacked once, at construction, into an asymmetric group-integer <see cref="QuantScheme"/> (codes row by row,
/// the checkpoint's scales widened exactly to float32, one zero-point byte per group): 2.5 bytes more per group than the
/// checkpoint (+4 % at 4 bits and groups of 128), and the input tensors are not referenced afterwards. With an activation-order
/// <c>g_idx</c> the scheme's columns are the inputs sorted by group (stable), and each call gathers the activations into
/// that order through a pooled buffer.</para>
/// <para>Weights dequantize as (code − zero) · scale, exactly in float32; products sum each group in float32 and scale
/// it once (<see cref="SchemeMath"/>; at 4 bits on AVX-512 and AVX2 the 16 possible weights of a group are looked up by
/// lane permutes instead of converted, the activation gather folded into the kernel's activation order).</para>
/// </remarks>
public sealed class GptqMatrix : IWeightMatrix
{
    private readonly PermutedSchemeMatrix _matrix;

    /// <summary>Reads a GPTQ layer's tensors (raw little-endian bytes, as a safetensors file stores them).</summary>
    /// <param name="config">Bits, group size and zero-point convention.</param>
    /// <param name="inFeatures">Inputs (columns): a positive multiple of 32, and of the group size.</param>
    /// <param name="outFeatures">Outputs (rows): positive, with outFeatures · bits a multiple of 32.</param>
    /// <param name="qweight">int32 [inFeatures · bits / 32, outFeatures]: each output's codes as one little-endian bit stream down its column.</param>
    /// <param name="qzeros">int32 [groups, outFeatures · bits / 32]: each group's zero points as one little-endian bit stream along its row.</param>
    /// <param name="scales">[groups, outFeatures] in <paramref name="scaleType"/>.</param>
    /// <param name="gIdx">int32 [inFeatures]: the group of each input; empty for input i in group i / groupSize.</param>
    /// <param name="scaleType">The scales' type (F16 in GPTQ checkpoints).</param>
    /// <exception cref="ArgumentException">A size does not match the shape, or the group size has no scheme (a multiple of 8 from 16 to 4096, or the whole column).</exception>
    /// <exception cref="InvalidDataException"><paramref name="gIdx"/> names a group out of range or does not put groupSize inputs in every group, or a zero point exceeds 255.</exception>
    public GptqMatrix(GptqConfig config, int inFeatures, int outFeatures, ReadOnlySpan<byte> qweight, ReadOnlySpan<byte> qzeros, ReadOnlySpan<byte> scales,
                      ReadOnlySpan<byte> gIdx = default, SchemeScaleType scaleType = SchemeScaleType.F16)
    {
        ArgumentNullException.ThrowIfNull(config);
        int bits = config.Bits;
        if (inFeatures <= 0 || inFeatures % 32 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "GPTQ packs 32 inputs into bits words: inFeatures is a positive multiple of 32.");
        }

        if (outFeatures <= 0 || (long)outFeatures * bits % 32 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, $"GPTQ packs zero points into int32 words: outFeatures · {bits} must be a positive multiple of 32.");
        }

        int groupSize = config.GroupSize == -1 ? inFeatures : config.GroupSize;
        if (inFeatures % groupSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(inFeatures), $"inFeatures ({inFeatures}) is not a multiple of the group size {groupSize}.");
        }

        int groups = inFeatures / groupSize;
        if (!Enum.IsDefined(scaleType))
        {
            throw new ArgumentOutOfRangeException(nameof(scaleType), scaleType, "Not a defined scale type.");
        }

        QuantScheme scheme = GroupScheme.Create(bits, groupSize, inFeatures, SchemeScaleType.F32, nameof(config));
        int scaleBytes = scaleType == SchemeScaleType.F32 ? 4 : 2;
        int zeroWords = (int)((long)outFeatures * bits / 32);
        CheckpointTensors.ThrowIfWrongLength(qweight.Length, (long)inFeatures / 32 * bits * outFeatures * 4, nameof(qweight), $"int32 [{inFeatures / 32 * bits}, {outFeatures}]");
        CheckpointTensors.ThrowIfWrongLength(qzeros.Length, (long)groups * zeroWords * 4, nameof(qzeros), $"int32 [{groups}, {zeroWords}]");
        CheckpointTensors.ThrowIfWrongLength(scales.Length, (long)groups * outFeatures * scaleBytes, nameof(scales), $"{scaleType} [{groups}, {outFeatures}]");
        if (!gIdx.IsEmpty)
        {
            CheckpointTensors.ThrowIfWrongLength(gIdx.Length, (long)inFeatures * 4, nameof(gIdx), $"int32 [{inFeatures}]");
        }

        int[]? columnInputs = gIdx.IsEmpty ? null : GroupScheme.SortByGroup(gIdx, inFeatures, groups, groupSize);
        int zeroOffset = config.Format == GptqCheckpointFormat.Gptq ? 1 : 0;
        SchemeLayout layout = SchemeLayout.Create(scheme, outFeatures, inFeatures);
        byte[] packed = new byte[layout.TotalBytes];
        Span<byte> codes = new byte[inFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int j = 0; j < inFeatures; j++)
            {
                int input = columnInputs is null ? j : columnInputs[j];
                codes[j] = (byte)CheckpointTensors.StreamValue(qweight, outFeatures, o, (long)input * bits, bits);
            }

            SchemeCodes.Pack(bits, codes, packed.AsSpan((int)(o * (long)layout.RowCodeBytes), layout.RowCodeBytes), 0);
            for (int g = 0; g < groups; g++)
            {
                long s = layout.ScaleIndex(o, g);
                float scale = SchemeScales.Read(scaleType, scales, (long)g * outFeatures + o); // F16 and BF16 widen exactly
                BinaryPrimitives.WriteSingleLittleEndian(packed.AsSpan((int)(layout.ScalesOffset + s * 4), 4), scale);
                int zero = CheckpointTensors.StreamValue(qzeros, 1, 0, (long)g * zeroWords * 32 + (long)o * bits, bits) + zeroOffset;
                if (zero > byte.MaxValue)
                {
                    throw new InvalidDataException($"The zero point of output {o}, group {g} is {zero}; at most 255 is supported.");
                }

                packed[layout.ZeroPointsOffset + s] = (byte)zero;
            }
        }

        _matrix = new PermutedSchemeMatrix(new SchemeMatrix(scheme, packed, outFeatures, inFeatures), columnInputs);
        Config = config;
    }

    /// <summary>The configuration the layer was read with.</summary>
    public GptqConfig Config { get; }

    /// <summary>Rows (outputs).</summary>
    public int Rows => _matrix.Matrix.Rows;

    /// <summary>Columns (inputs).</summary>
    public int Columns => _matrix.Matrix.Columns;

    /// <summary>Whether the layer's <c>g_idx</c> permutes the inputs (activation order), so the scheme's columns are not the inputs' order.</summary>
    public bool IsActOrder => _matrix.IsPermuted;

    /// <summary>y = W · x.</summary>
    /// <remarks>
    /// At 4 and 8 bits, with groups of a multiple of 32, on processors with AVX2 the activations are first quantized to 8 bits per 32 (as the GGUF formats'
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

    /// <summary>The float weights, <see cref="Rows"/> × <see cref="Columns"/> row-major in the original input order: (code − zero) · scale.</summary>
    /// <param name="destination">At least <see cref="Rows"/> · <see cref="Columns"/> values.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Dequantize(Span<float> destination) => _matrix.Dequantize(destination);

    /// <summary>
    /// The layer as a <see cref="QuantScheme"/> tensor (<see cref="SchemeQuantizer"/>'s layout) with the same values, when
    /// its columns are the inputs in order: always, unless <see cref="IsActOrder"/>.
    /// </summary>
    /// <param name="scheme">The asymmetric group (or row) integer scheme.</param>
    /// <param name="weights">The repacked bytes; not to be modified.</param>
    /// <returns>Whether the layer has a lossless scheme form.</returns>
    public bool TryGetScheme(out QuantScheme scheme, out ReadOnlyMemory<byte> weights)
    {
        scheme = _matrix.Matrix.Scheme;
        weights = _matrix.IsPermuted ? default : _matrix.Matrix.Weights;
        return !_matrix.IsPermuted;
    }
}
