using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// An FP8 checkpoint weight (<c>weight</c> in F8_E4M3 or F8_E5M2, [outFeatures, inFeatures]) with its scale
/// (<c>weight_scale_inv</c> as DeepSeek-V3 stores it, or <c>weight_scale</c>) as a matrix that multiplies without
/// materialising float weights (docs/formats.md#fp8-checkpoints). In both conventions the stored scale multiplies: the
/// weight is FP8(code) · scale.
/// </summary>
/// <remarks>
/// The scale's shape decides the granularity: one value (shape [] or [1]) for the tensor; [outFeatures] or
/// [outFeatures, 1] for one per output; [⌈outFeatures / b⌉, ⌈inFeatures / b⌉] for b × b blocks (b = 128 in DeepSeek-V3),
/// edge blocks partial. Repacked once, at construction, into the matching FP8 <see cref="QuantScheme"/> (the codes and
/// the scales copied unchanged, one after the other): the checkpoint's size, the input tensors not referenced afterwards.
/// </remarks>
public sealed class Fp8WeightMatrix : IWeightMatrix
{
    private readonly SchemeMatrix _matrix;

    /// <summary>Reads an FP8 weight and its scale (raw little-endian bytes, as a safetensors file stores them).</summary>
    /// <param name="weight">outFeatures · inFeatures FP8 codes, row-major.</param>
    /// <param name="outFeatures">Outputs (rows).</param>
    /// <param name="inFeatures">Inputs (columns).</param>
    /// <param name="scale">The scale tensor in <paramref name="scaleType"/>.</param>
    /// <param name="scaleShape">The scale tensor's shape.</param>
    /// <param name="scaleType">The scale tensor's type (F32 in DeepSeek-V3 and most exports).</param>
    /// <param name="element"><see cref="SchemeElement.Fp8E4M3"/> (the default) or <see cref="SchemeElement.Fp8E5M2"/>.</param>
    /// <param name="blockSize">The side of a scale block when the scale is two-dimensional: a multiple of 8 from 16 to 4096 (128 by default).</param>
    /// <exception cref="ArgumentException">A size does not match the shape, or the scale's shape is none of the three.</exception>
    public Fp8WeightMatrix(ReadOnlySpan<byte> weight, int outFeatures, int inFeatures, ReadOnlySpan<byte> scale, ReadOnlySpan<int> scaleShape,
                           SchemeScaleType scaleType = SchemeScaleType.F32, SchemeElement element = SchemeElement.Fp8E4M3, int blockSize = 128)
    {
        if (outFeatures <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "outFeatures must be positive.");
        }

        if (inFeatures <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "inFeatures must be positive.");
        }

        if (blockSize < QuantScheme.MinGroupSize || blockSize > QuantScheme.MaxGroupSize || blockSize % QuantScheme.GroupSizeMultiple != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size is a multiple of 8 from 16 to 4096.");
        }

        CheckpointTensors.ThrowIfWrongLength(weight.Length, (long)outFeatures * inFeatures, nameof(weight), $"FP8 [{outFeatures}, {inFeatures}]");
        QuantScheme scheme = QuantScheme.Fp8(element, SchemeGranularity.Tensor, 0, scaleType);
        long scaleCount = 1;
        foreach (int dimension in scaleShape)
        {
            if (dimension < 0)
            {
                ThrowHelper.ThrowArgument(nameof(scaleShape), $"The scale shape has a negative dimension {dimension}.");
            }

            scaleCount *= dimension;
        }

        int blockRows = (int)(((long)outFeatures + blockSize - 1) / blockSize);
        int blockColumns = (int)(((long)inFeatures + blockSize - 1) / blockSize);
        if (scaleCount == 1 && scaleShape.Length <= 1)
        {
            // one scale for the tensor
        }
        else if ((scaleShape.Length == 1 && scaleShape[0] == outFeatures) || (scaleShape.Length == 2 && scaleShape[0] == outFeatures && scaleShape[1] == 1))
        {
            scheme = QuantScheme.Fp8(element, SchemeGranularity.Row, 0, scaleType);
        }
        else if (scaleShape.Length == 2 && scaleShape[0] == blockRows && scaleShape[1] == blockColumns)
        {
            scheme = QuantScheme.Fp8(element, SchemeGranularity.Block2D, blockSize, scaleType);
        }
        else
        {
            ThrowHelper.ThrowArgument(nameof(scaleShape), $"A scale of shape [{string.Join(", ", scaleShape.ToArray())}] is not per tensor, per output ([{outFeatures}] or [{outFeatures}, 1]) or per {blockSize} × {blockSize} block ([{blockRows}, {blockColumns}]).");
        }

        SchemeLayout layout = SchemeLayout.Create(scheme, outFeatures, inFeatures);
        CheckpointTensors.ThrowIfWrongLength(scale.Length, layout.ScaleCount * layout.ScaleBytes, nameof(scale), $"{scaleType} [{string.Join(", ", scaleShape.ToArray())}]");
        byte[] packed = new byte[layout.TotalBytes];
        weight.CopyTo(packed);
        scale.CopyTo(packed.AsSpan((int)layout.ScalesOffset));
        _matrix = new SchemeMatrix(scheme, packed, outFeatures, inFeatures);
    }

    /// <summary>The FP8 scheme the weight is held in (tensor, row or 2-D block scales).</summary>
    public QuantScheme Scheme => _matrix.Scheme;

    /// <summary>The repacked bytes in <see cref="SchemeQuantizer"/>'s layout for <see cref="Scheme"/>: the same values, no loss.</summary>
    public ReadOnlyMemory<byte> SchemeWeights => _matrix.Weights;

    /// <summary>Rows (outputs).</summary>
    public int Rows => _matrix.Rows;

    /// <summary>Columns (inputs).</summary>
    public int Columns => _matrix.Columns;

    /// <inheritdoc/>
    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int maxDegreeOfParallelism = -1) => _matrix.MatVec(x, y, maxDegreeOfParallelism);

    /// <inheritdoc/>
    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int batch, int maxDegreeOfParallelism = -1) => _matrix.MatMul(x, y, batch, maxDegreeOfParallelism);

    /// <summary>The float weights, <see cref="Rows"/> × <see cref="Columns"/> row-major: FP8(code) · scale.</summary>
    /// <param name="destination">At least <see cref="Rows"/> · <see cref="Columns"/> values.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Dequantize(Span<float> destination)
    {
        long count = (long)Rows * Columns;
        if (destination.Length < count)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"destination has room for {destination.Length} values; {Rows} × {Columns} need {count}.");
        }

        SchemeQuantizer.Dequantize(_matrix.Scheme, _matrix.Weights.Span, Rows, Columns, destination[..(int)count]);
    }
}
