using System.Collections.Frozen;
using System.Runtime.Intrinsics;

namespace Quantization.Kernels;

internal delegate void QuantizeRowFn(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance);

internal delegate void DequantizeFn(ReadOnlySpan<byte> source, Span<float> destination);

internal delegate void QuantizeTrailerFn(ReadOnlySpan<float> tensor, Span<byte> trailer);

internal delegate void QuantizeTensorRowFn(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<byte> trailer);

internal delegate void DequantizeTensorBlocksFn(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination);

/// <summary>
/// The kernels registered for one type. <see cref="Quantize"/> quantizes one row, or for a format with a per-tensor
/// trailer one whole tensor (its rows as one, then the trailer after them); <see cref="Dequantize"/> takes whole blocks,
/// followed by the trailer for such a format. The generic drivers call <see cref="QuantizeTrailer"/> once and then
/// <see cref="QuantizeRow"/> per row, which works for both kinds.
/// </summary>
internal sealed class KernelEntry(QuantType type, QuantizeRowFn? quantize, QuantizeRowFn? quantizeReference,
                                  DequantizeFn? dequantize, DequantizeFn? dequantizeReference,
                                  QuantizeTrailerFn? quantizeTrailer = null, QuantizeTensorRowFn? quantizeTensorRow = null,
                                  DequantizeTensorBlocksFn? dequantizeTensorBlocks = null)
{
    public QuantType Type { get; } = type;
    public QuantFormat Format { get; } = QuantFormat.Get(type);
    public QuantizeRowFn? Quantize { get; } = quantize;
    public QuantizeRowFn? QuantizeReference { get; } = quantizeReference;
    public DequantizeFn? Dequantize { get; } = dequantize;
    public DequantizeFn? DequantizeReference { get; } = dequantizeReference;
    public bool CanQuantize => Quantize is not null;

    /// <summary>Whether the quantizer refuses to run without importance weights (ggml's <c>ggml_quantize_requires_imatrix</c>).</summary>
    public bool RequiresImportance { get; } = Formats.FormatRegistry.TryGet(type)?.Importance == Formats.ImportanceUse.Required;
    public bool CanDequantize => Dequantize is not null;

    /// <summary>Writes the per-tensor trailer from the whole tensor (nothing for block formats, whose trailer is empty).</summary>
    public void QuantizeTrailer(ReadOnlySpan<float> tensor, Span<byte> trailer) => quantizeTrailer?.Invoke(tensor, trailer);

    /// <summary>
    /// Dequantizes whole blocks taken from anywhere in a tensor (a row, or part of one) with the tensor's trailer, which
    /// block formats (an empty trailer) ignore: the values <see cref="Dequantize"/> gives for those blocks.
    /// </summary>
    public void DequantizeBlocks(ReadOnlySpan<byte> blocks, ReadOnlySpan<byte> trailer, Span<float> destination)
    {
        if (dequantizeTensorBlocks is not null)
        {
            dequantizeTensorBlocks(blocks, trailer, destination);
        }
        else
        {
            Dequantize!(blocks, destination);
        }
    }

    /// <summary>Quantizes one row of a tensor whose trailer <see cref="QuantizeTrailer"/> has written.</summary>
    public void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance, ReadOnlySpan<byte> trailer)
    {
        if (quantizeTensorRow is not null)
        {
            quantizeTensorRow(row, destination, trailer);
        }
        else
        {
            Quantize!(row, destination, importance);
        }
    }

    /// <summary>
    /// An entry for a block format. The kernels' fast paths are written for Vector128 hardware; without it they would run
    /// on its software fallback, far slower than the scalar reference they equal to the bit, so the entry then takes the
    /// reference as its fast path too (this is the one place that decides, for every kernel).
    /// </summary>
    public static KernelEntry Create<TKernel>() where TKernel : IQuantKernel =>
        Vector128.IsHardwareAccelerated
            ? new(TKernel.Type, TKernel.QuantizeRow, TKernel.QuantizeRowReference, TKernel.Dequantize, TKernel.DequantizeReference)
            : new(TKernel.Type, TKernel.QuantizeRowReference, TKernel.QuantizeRowReference, TKernel.DequantizeReference, TKernel.DequantizeReference);

    /// <summary>The entry of a format whose kernel has only the fast paths, with its scalar references beside it; as <see cref="Create{TKernel}()"/>.</summary>
    public static KernelEntry Create<TKernel>(QuantizeRowFn quantizeReference, DequantizeFn dequantizeReference) where TKernel : IFastKernel =>
        Vector128.IsHardwareAccelerated
            ? new(TKernel.Type, TKernel.QuantizeRow, quantizeReference, TKernel.Dequantize, dequantizeReference)
            : new(TKernel.Type, quantizeReference, quantizeReference, dequantizeReference, dequantizeReference);

    /// <summary>
    /// An entry for a format with a per-tensor trailer (importance does not apply to such formats and is ignored); the
    /// fast path is chosen as in <see cref="Create{TKernel}()"/>.
    /// </summary>
    public static KernelEntry CreateWithTrailer<TKernel>() where TKernel : ITensorQuantKernel
    {
        QuantFormat format = QuantFormat.Get(TKernel.Type);
        QuantizeTensorRowFn quantizeRow = Vector128.IsHardwareAccelerated ? TKernel.QuantizeRow : TKernel.QuantizeRowReference;
        DequantizeTensorBlocksFn dequantize = Vector128.IsHardwareAccelerated ? TKernel.Dequantize : TKernel.DequantizeReference;
        QuantizeTensorRowFn quantizeRowReference = TKernel.QuantizeRowReference;
        return new(TKernel.Type,
            (x, y, _) => WholeTensor(format, x, y, quantizeRow),
            (x, y, _) => WholeTensor(format, x, y, quantizeRowReference),
            (x, y) => dequantize(x[..^format.TrailerBytes], x[^format.TrailerBytes..], y),
            (x, y) => TKernel.DequantizeReference(x[..^format.TrailerBytes], x[^format.TrailerBytes..], y),
            TKernel.QuantizeTrailer, quantizeRow, dequantize);

        static void WholeTensor(QuantFormat format, ReadOnlySpan<float> x, Span<byte> y, QuantizeTensorRowFn quantizeRow)
        {
            int blockBytes = x.Length / format.BlockSize * format.BytesPerBlock;
            Span<byte> trailer = y.Slice(blockBytes, format.TrailerBytes);
            TKernel.QuantizeTrailer(x, trailer);
            quantizeRow(x, y[..blockBytes], trailer);
        }
    }
}

/// <summary>Which kernels exist for which type: those of every registered format descriptor that has them (<see cref="Formats.FormatRegistry"/>).</summary>
internal static class KernelRegistry
{
    private static readonly FrozenDictionary<QuantType, KernelEntry> s_entries =
        Formats.FormatRegistry.All.Where(d => d.Kernels is not null).Select(d => d.Kernels!()).ToFrozenDictionary(e => e.Type);

    public static KernelEntry? TryGet(QuantType type) => s_entries.GetValueOrDefault(type);

    /// <summary>Every registered type, in id order.</summary>
    public static IEnumerable<KernelEntry> All => s_entries.Values.OrderBy(e => (int)e.Type);
}
