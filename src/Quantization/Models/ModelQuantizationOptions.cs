using Microsoft.Extensions.Logging;

namespace Quantization.Models;

/// <summary>Options of <see cref="ModelQuantizer.Quantize"/>.</summary>
public sealed class ModelQuantizationOptions
{
    /// <summary>Threads for quantization; −1 (the default) for one per processor.</summary>
    public int Threads { get; init; } = -1;

    /// <summary>
    /// Importance data by tensor name (llama.cpp's imatrix: one non-negative weight per column, times the experts of a
    /// 3-D tensor); null for none. Presets that need it name the first tensor without it.
    /// </summary>
    public IReadOnlyDictionary<string, float[]>? Importance { get; init; }

    /// <summary>Where the importance came from, written as llama-quantize's <c>quantize.imatrix.*</c> keys; null writes none.</summary>
    public ImportanceSource? ImportanceSource { get; init; }

    /// <summary>Receives a summary when the work starts and ends (Information), every tensor's decision (Debug) and a stop (Warning); null for none.</summary>
    public ILogger? Logger { get; init; }
}

/// <summary>The provenance of importance data, written as the <c>quantize.imatrix.*</c> metadata keys llama-quantize writes.</summary>
/// <param name="File">The imatrix file name (<c>quantize.imatrix.file</c>).</param>
/// <param name="Dataset">The calibration data set, when the imatrix names it (<c>quantize.imatrix.dataset</c>).</param>
/// <param name="EntryCount">The number of entries (<c>quantize.imatrix.entries_count</c>).</param>
/// <param name="ChunkCount">The number of calibration chunks, when known (<c>quantize.imatrix.chunks_count</c>).</param>
public sealed record ImportanceSource(string File, string? Dataset, int EntryCount, int? ChunkCount);

/// <summary>How far <see cref="ModelQuantizer.Quantize"/> has come.</summary>
/// <param name="TensorsDone">Tensors written.</param>
/// <param name="TensorCount">Tensors in the model.</param>
/// <param name="BytesDone">Source tensor bytes processed.</param>
/// <param name="TotalBytes">Source tensor bytes in the model.</param>
/// <param name="Tensor">The tensor being written (the last one when done).</param>
public readonly record struct ModelQuantizationProgress(int TensorsDone, int TensorCount, long BytesDone, long TotalBytes, string Tensor);

/// <summary>What <see cref="ModelQuantizer.Quantize"/> wrote.</summary>
/// <param name="Plan">The per-tensor decisions that were carried out.</param>
/// <param name="OutputBytes">The size of the file written.</param>
/// <param name="Elapsed">The wall-clock time taken.</param>
public sealed record ModelQuantizationResult(QuantizationPlan Plan, long OutputBytes, TimeSpan Elapsed);
