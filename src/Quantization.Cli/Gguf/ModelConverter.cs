using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Quantization.Formats;
using Quantization.Gguf;
using Quantization.Models;

namespace Quantization.Cli.Gguf;

/// <summary>What <see cref="ModelConverter"/> did.</summary>
internal sealed record ConversionResult(int Quantized, int Copied, long InputBytes, long OutputBytes, TimeSpan Elapsed);

/// <summary>
/// Converts a GGUF model: every 2-D F32 / F16 / BF16 tensor whose rows are a whole number of the target's blocks is
/// quantized (bytes equal to <c>ggml_quantize_chunk</c> with the same importance), every other tensor and all
/// metadata are copied unchanged, and <c>general.file_type</c> / <c>general.quantization_version</c> are updated.
/// Works in bounded memory: a tensor is read from the map and quantized a slab of rows at a time.
/// </summary>
internal static class ModelConverter
{
    private const int SlabValues = SlabQuantizer.SlabValues;

    /// <summary>Target types convert accepts: every ggml weight type with a quantizer (activation-only formats aside).</summary>
    public static bool IsSupportedTarget(QuantFormat format) =>
        format.IsGgmlType && format.CanQuantize && FormatRegistry.TryGet(format.Type)?.Role == FormatRole.Weight;

    /// <summary>
    /// llama.cpp's <c>llama_ftype</c> for a model whose weights are all <paramref name="type"/> (the "_S" mix where ggml has
    /// several), from the format's descriptor; 1024 (<c>LLAMA_FTYPE_GUESSED</c>) for a type without one.
    /// </summary>
    public static uint FileType(QuantType type) => (uint)(FormatRegistry.TryGet(type)?.LlamaFileType ?? LlamaFileTypeGuessed);

    /// <summary>llama.cpp's <c>LLAMA_FTYPE_GUESSED</c>.</summary>
    public const int LlamaFileTypeGuessed = 1024;

    /// <summary>Whether convert quantizes <paramref name="tensor"/> to <paramref name="target"/>.</summary>
    public static bool ShouldQuantize(GgufTensorInfo tensor, QuantFormat target) =>
        tensor.Dimensions.Count == 2
        && FormatRegistry.TryGet(tensor.Type)?.Family == FormatFamily.Float
        && tensor.Type != target.Type
        && tensor.RowLength > 0 && tensor.RowLength % target.BlockSize == 0 && tensor.RowLength <= SlabValues;

    public static ConversionResult Convert(GgufFile input, string outputPath, QuantFormat target, IReadOnlyDictionary<string, float[]>? importance,
                                           int threads, ILogger logger, Action<long, long>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        int quantized = 0, copied = 0;
        // GgufWriter.Create writes OUT.tmp and moves it into place on Finish; unfinished, it deletes it.
        using (GgufWriter writer = GgufWriter.Create(outputPath))
        {
            foreach (KeyValuePair<string, GgufValue> kv in input.Metadata)
            {
                writer.SetMetadata(kv.Key, kv.Value);
            }

            writer.SetMetadata(GgufConstants.FileTypeKey, GgufValue.FromUInt32(FileType(target.Type)));
            writer.SetMetadata(GgufConstants.QuantizationVersionKey, GgufValue.FromUInt32(GgufConstants.QuantizationVersion));
            var plan = new bool[input.Tensors.Count];
            for (int i = 0; i < plan.Length; i++)
            {
                GgufTensorInfo t = input.Tensors[i];
                plan[i] = ShouldQuantize(t, target);
                if (plan[i] && FormatRegistry.TryGet(target.Type)?.Importance == ImportanceUse.Required && importance?.ContainsKey(t.Name) != true)
                {
                    // Like llama-quantize: these formats are not quantized without importance (ggml aborts).
                    throw new InvalidDataException(importance is null
                        ? $"{target.Name} needs an importance matrix; pass one with --imatrix."
                        : $"{target.Name} needs an importance matrix entry for every quantized tensor; the imatrix has none for '{t.Name}'.");
                }

                writer.AddTensor(t.Name, plan[i] ? target.Type : t.Type, [.. t.Dimensions]);
            }

            for (int i = 0; i < plan.Length; i++)
            {
                GgufTensorInfo t = input.Tensors[i];
                GgufTensorView view = input.GetTensorView(t);
                if (plan[i])
                {
                    float[]? imatrix = null;
                    if (importance is not null && importance.TryGetValue(t.Name, out imatrix) && imatrix.Length != t.RowLength)
                    {
                        throw new InvalidDataException($"The imatrix entry for '{t.Name}' has {imatrix.Length} values; the tensor's rows have {t.RowLength}.");
                    }

                    try
                    {
                        Quantize(view, target, imatrix, threads, writer, t.Name);
                    }
                    catch (Exception ex) when (RejectedSource(ex) is { } rejected)
                    {
                        // Values a format cannot take (e.g. IQ2 rows whose squares overflow): a data error, not a crash.
                        throw new InvalidDataException($"Tensor '{t.Name}': {rejected.Message}", ex);
                    }
                    quantized++;
                }
                else
                {
                    ModelQuantizer.Copy(view, writer, CancellationToken.None);
                    copied++;
                }

                progress?.Invoke(i + 1, t.ByteCount);
            }

            writer.Finish();
        }

        long inputBytes = input.FileSize, outputBytes = new FileInfo(outputPath).Length;
        var result = new ConversionResult(quantized, copied, inputBytes, outputBytes, clock.Elapsed);
        logger.LogInformation("Converted to {Type}: {Quantized} tensors quantized, {Copied} copied; {InputBytes:N0} -> {OutputBytes:N0} bytes ({Ratio:0.00}x smaller) in {Seconds:0.00} s",
            target.Name, quantized, copied, inputBytes, outputBytes, (double)inputBytes / outputBytes, result.Elapsed.TotalSeconds);
        return result;
    }

    /// <summary>The quantizer's refusal of the values themselves, also when a parallel loop wrapped it.</summary>
    private static ArgumentException? RejectedSource(Exception ex) => ex switch
    {
        ArgumentException { ParamName: "source" } a => a,
        AggregateException g => g.Flatten().InnerExceptions.OfType<ArgumentException>().FirstOrDefault(a => a.ParamName == "source"),
        _ => null,
    };

    private static void Quantize(GgufTensorView view, QuantFormat target, float[]? importance, int threads, GgufWriter writer, string name) =>
        SlabQuantizer.Write(view.Rows, (int)view.Columns, (first, count, values) =>
        {
            ReadOnlySpan<byte> source = view.GetRows(first, count);
            if (view.Type == QuantType.F32)
            {
                MemoryMarshal.Cast<byte, float>(source).CopyTo(values);
            }
            else
            {
                Quantizer.Dequantize(view.Type, source, values);
            }
        }, target, importance, threads, writer, name);
}
