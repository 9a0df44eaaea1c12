using Quantization.SafeTensors;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// Opens a quantized linear layer of a safetensors checkpoint by its name prefix (e.g.
/// <c>model.layers.0.self_attn.q_proj</c>): the layout's tensors looked up by their producers' names, their dtypes and
/// shapes checked, and the matrix built (docs/formats.md#checkpoint-layouts).
/// </summary>
/// <remarks>
/// GPTQ, AWQ and FP8 layers are repacked and do not reference the checkpoint afterwards; a bitsandbytes layer references
/// its codes in the checkpoint's memory map, so the checkpoint must stay open while it is used.
/// </remarks>
public static class CheckpointLayers
{
    /// <summary>A GPTQ layer: <c>prefix.qweight</c>, <c>.qzeros</c> (I32), <c>.scales</c> (F16, BF16 or F32) and, when present, <c>.g_idx</c> (I32).</summary>
    /// <param name="checkpoint">The open checkpoint.</param>
    /// <param name="prefix">The layer's name without the tensor suffix.</param>
    /// <param name="config">The checkpoint's GPTQ configuration.</param>
    /// <returns>The matrix, [out, in] with in = qweight rows · 32 / bits and out = qweight columns.</returns>
    /// <exception cref="KeyNotFoundException">A required tensor is missing.</exception>
    /// <exception cref="InvalidDataException">A tensor has the wrong dtype or rank, or its content is inconsistent.</exception>
    /// <exception cref="ArgumentException">The shapes do not agree with each other or with the configuration.</exception>
    public static GptqMatrix OpenGptq(SafeTensorsCheckpoint checkpoint, string prefix, GptqConfig config)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(config);
        SafeTensorsTensorView qweight = Get(checkpoint, prefix + ".qweight", SafeTensorsDType.I32);
        SafeTensorsTensorView qzeros = Get(checkpoint, prefix + ".qzeros", SafeTensorsDType.I32);
        SafeTensorsTensorView scales = Get(checkpoint, prefix + ".scales", SafeTensorsDType.F16, SafeTensorsDType.BF16, SafeTensorsDType.F32);
        (int packedRows, int outFeatures) = Matrix(qweight);
        ReadOnlySpan<byte> gIdx = checkpoint.TryGetTensor(prefix + ".g_idx", out _, out _)
            ? Get(checkpoint, prefix + ".g_idx", SafeTensorsDType.I32).Span
            : default;
        return new GptqMatrix(config, checked(packedRows * 32 / config.Bits), outFeatures, qweight.Span, qzeros.Span, scales.Span, gIdx, ScaleType(scales));
    }

    /// <summary>An AutoAWQ GEMM layer: <c>prefix.qweight</c>, <c>.qzeros</c> (I32) and <c>.scales</c> (F16, BF16 or F32).</summary>
    /// <param name="checkpoint">The open checkpoint.</param>
    /// <param name="prefix">The layer's name without the tensor suffix.</param>
    /// <param name="config">The checkpoint's AWQ configuration.</param>
    /// <returns>The matrix, [out, in] with in = qweight rows and out = 8 · qweight columns.</returns>
    /// <exception cref="KeyNotFoundException">A required tensor is missing.</exception>
    /// <exception cref="InvalidDataException">A tensor has the wrong dtype or rank.</exception>
    /// <exception cref="ArgumentException">The shapes do not agree with each other or with the configuration.</exception>
    public static AwqMatrix OpenAwq(SafeTensorsCheckpoint checkpoint, string prefix, AwqConfig config)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(config);
        SafeTensorsTensorView qweight = Get(checkpoint, prefix + ".qweight", SafeTensorsDType.I32);
        SafeTensorsTensorView qzeros = Get(checkpoint, prefix + ".qzeros", SafeTensorsDType.I32);
        SafeTensorsTensorView scales = Get(checkpoint, prefix + ".scales", SafeTensorsDType.F16, SafeTensorsDType.BF16, SafeTensorsDType.F32);
        (int inFeatures, int words) = Matrix(qweight);
        return new AwqMatrix(config.GroupSize, inFeatures, checked(words * 8), qweight.Span, qzeros.Span, scales.Span, ScaleType(scales));
    }

    /// <summary>
    /// A bitsandbytes 4-bit layer: <c>prefix.weight</c> (U8), <c>.weight.quant_state.bitsandbytes__nf4</c> or
    /// <c>__fp4</c> (U8 JSON), <c>.weight.absmax</c>, <c>.weight.quant_map</c> and, when double-quantized,
    /// <c>.weight.nested_absmax</c> and <c>.weight.nested_quant_map</c>.
    /// </summary>
    /// <param name="checkpoint">The open checkpoint; it must stay open while the matrix is used.</param>
    /// <param name="prefix">The layer's name without the tensor suffix.</param>
    /// <returns>The matrix, shaped as the JSON state says.</returns>
    /// <exception cref="KeyNotFoundException">A required tensor is missing.</exception>
    /// <exception cref="InvalidDataException">A tensor has the wrong dtype, or the JSON state is malformed.</exception>
    /// <exception cref="ArgumentException">A tensor's size does not match the state.</exception>
    public static BitsAndBytes4BitMatrix OpenBitsAndBytes4Bit(SafeTensorsCheckpoint checkpoint, string prefix)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        string weight = prefix + ".weight";
        string stateName = checkpoint.TryGetTensor(weight + ".quant_state.bitsandbytes__nf4", out _, out _)
            ? weight + ".quant_state.bitsandbytes__nf4"
            : weight + ".quant_state.bitsandbytes__fp4";
        SafeTensorsTensorView state = Get(checkpoint, stateName, SafeTensorsDType.U8);
        SafeTensorsTensorView codes = Get(checkpoint, weight, SafeTensorsDType.U8);
        SafeTensorsTensorView absmax = Get(checkpoint, weight + ".absmax", SafeTensorsDType.F32, SafeTensorsDType.U8);
        SafeTensorsTensorView quantMap = Get(checkpoint, weight + ".quant_map", SafeTensorsDType.F32);
        if (absmax.DType == SafeTensorsDType.F32)
        {
            return BitsAndBytes4BitMatrix.FromCheckpoint(codes.Memory, state.Span, absmax.Span, quantMap.Span);
        }

        SafeTensorsTensorView nestedAbsmax = Get(checkpoint, weight + ".nested_absmax", SafeTensorsDType.F32);
        SafeTensorsTensorView nestedQuantMap = Get(checkpoint, weight + ".nested_quant_map", SafeTensorsDType.F32);
        return BitsAndBytes4BitMatrix.FromCheckpoint(codes.Memory, state.Span, absmax.Span, quantMap.Span, nestedAbsmax.Span, nestedQuantMap.Span);
    }

    /// <summary>
    /// An FP8 layer: <c>prefix.weight</c> (F8_E4M3 or F8_E5M2, [out, in]) with <c>prefix.weight_scale_inv</c> or, without
    /// it, <c>prefix.weight_scale</c> (F32, BF16 or F16); 2-D scales are 128 × 128 blocks.
    /// </summary>
    /// <param name="checkpoint">The open checkpoint.</param>
    /// <param name="prefix">The layer's name without the tensor suffix.</param>
    /// <returns>The matrix, [out, in].</returns>
    /// <exception cref="KeyNotFoundException">The weight or both scales are missing.</exception>
    /// <exception cref="InvalidDataException">A tensor has the wrong dtype or rank.</exception>
    /// <exception cref="ArgumentException">The scale's shape is none of per tensor, per output and per 128 × 128 block.</exception>
    public static Fp8WeightMatrix OpenFp8(SafeTensorsCheckpoint checkpoint, string prefix)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        SafeTensorsTensorView weight = Get(checkpoint, prefix + ".weight", SafeTensorsDType.F8E4M3, SafeTensorsDType.F8E5M2);
        string scaleName = checkpoint.TryGetTensor(prefix + ".weight_scale_inv", out _, out _) ? prefix + ".weight_scale_inv" : prefix + ".weight_scale";
        SafeTensorsTensorView scale = Get(checkpoint, scaleName, SafeTensorsDType.F32, SafeTensorsDType.BF16, SafeTensorsDType.F16);
        (int rows, int columns) = Matrix(weight);
        IReadOnlyList<long> shape = scale.Info.Shape;
        Span<int> scaleShape = stackalloc int[Math.Min(shape.Count, 4)];
        if (shape.Count > 4)
        {
            throw new InvalidDataException($"'{scaleName}' has {shape.Count} dimensions.");
        }

        for (int i = 0; i < shape.Count; i++)
        {
            scaleShape[i] = checked((int)shape[i]);
        }

        SchemeElement element = weight.DType == SafeTensorsDType.F8E4M3 ? SchemeElement.Fp8E4M3 : SchemeElement.Fp8E5M2;
        return new Fp8WeightMatrix(weight.Span, rows, columns, scale.Span, scaleShape, ScaleType(scale), element);
    }

    private static SafeTensorsTensorView Get(SafeTensorsCheckpoint checkpoint, string name, params ReadOnlySpan<SafeTensorsDType> dtypes)
    {
        SafeTensorsTensorView view = checkpoint.GetTensorView(name);
        if (!dtypes.Contains(view.DType))
        {
            throw new InvalidDataException($"'{name}' is {view.Info.DTypeName}; the layout stores it as {string.Join(" or ", dtypes.ToArray().Select(SafeTensorsDTypes.GetName))}.");
        }

        return view;
    }

    private static (int Rows, int Columns) Matrix(SafeTensorsTensorView view)
    {
        IReadOnlyList<long> shape = view.Info.Shape;
        if (shape.Count != 2 || shape[0] > int.MaxValue || shape[1] > int.MaxValue)
        {
            throw new InvalidDataException($"'{view.Info.Name}' has shape [{string.Join(", ", shape)}]; the layout stores a matrix.");
        }

        return ((int)shape[0], (int)shape[1]);
    }

    private static SchemeScaleType ScaleType(SafeTensorsTensorView view) => view.DType switch
    {
        SafeTensorsDType.F16 => SchemeScaleType.F16,
        SafeTensorsDType.BF16 => SchemeScaleType.BF16,
        _ => SchemeScaleType.F32,
    };
}
