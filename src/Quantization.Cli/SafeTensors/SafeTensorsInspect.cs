using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Quantization.SafeTensors;
using Spectre.Console;

namespace Quantization.Cli.SafeTensors;

/// <summary>
/// <c>quant inspect</c> of a safetensors file or a sharded checkpoint's <c>model.safetensors.index.json</c>: the
/// metadata, every tensor (dtype, shape, bytes, shard, the quantization layout recognised) and totals.
/// </summary>
internal static class SafeTensorsInspect
{
    private static ReadOnlySpan<byte> GgufMagic => "GGUF"u8;

    /// <summary>Whether <paramref name="path"/> is for this command rather than the GGUF one: by extension, else by the absence of GGUF's magic.</summary>
    public static bool Handles(string path)
    {
        string extension = Path.GetExtension(path);
        if (extension.Equals(".safetensors", StringComparison.OrdinalIgnoreCase) || extension.Equals(".json", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (extension.Equals(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        Span<byte> magic = stackalloc byte[4];
        using FileStream stream = File.OpenRead(path);
        return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && !magic.SequenceEqual(GgufMagic);
    }

    public static int Run(FileInfo path, bool json, TextWriter output, TextWriter error, IAnsiConsole console)
    {
        try
        {
            using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(path.FullName);
            InspectSafeTensorsDocument document = Describe(checkpoint, path.Name);
            if (json)
            {
                output.WriteLine(JsonSerializer.Serialize(document, InspectSafeTensorsJsonContext.Default.InspectSafeTensorsDocument));
            }
            else
            {
                Render(document, console);
            }

            return QuantCommandLine.ExitSuccess;
        }
        catch (InvalidDataException ex)
        {
            error.WriteLine($"quant: error: {path.Name}: {ex.Message}");
            return QuantCommandLine.ExitRuntimeError;
        }
    }

    private static InspectSafeTensorsDocument Describe(SafeTensorsCheckpoint checkpoint, string name)
    {
        bool index = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var infos = new Dictionary<string, SafeTensorsTensorInfo>(StringComparer.Ordinal);
        var shards = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string tensor in checkpoint.TensorNames)
        {
            checkpoint.TryGetTensor(tensor, out SafeTensorsFile? file, out SafeTensorsTensorInfo? info);
            infos.Add(tensor, info!);
            shards.Add(tensor, Path.GetFileName(file!.Source));
        }

        Dictionary<string, string> layouts = LayoutRecognizer.Recognize(infos);
        var metadata = new List<InspectSafeTensorsMetadata>();
        foreach (KeyValuePair<string, string> kv in checkpoint.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            metadata.Add(new InspectSafeTensorsMetadata(kv.Key, kv.Value, Path.GetFileName(checkpoint.Source))); // only an index has these
        }

        foreach (string shard in checkpoint.ShardFiles)
        {
            foreach (KeyValuePair<string, string> kv in checkpoint.GetShard(shard).Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                metadata.Add(new InspectSafeTensorsMetadata(kv.Key, kv.Value, shard));
            }
        }

        return new InspectSafeTensorsDocument(
            name,
            index ? "safetensors-index" : "safetensors",
            checkpoint.ShardFiles,
            checkpoint.TotalSize,
            metadata,
            [.. checkpoint.TensorNames.Select(t => new InspectSafeTensorsTensor(
                t, infos[t].DTypeName, infos[t].Shape, shards[t], infos[t].Begin, infos[t].ByteCount, layouts.GetValueOrDefault(t)))]);
    }

    private static void Render(InspectSafeTensorsDocument document, IAnsiConsole console)
    {
        long allBytes = document.Tensors.Sum(t => t.Bytes);
        string title = document.Format == "safetensors"
            ? $"{document.File}: safetensors, {document.Tensors.Count} tensors, {Number(allBytes)} bytes of tensor data"
            : $"{document.File}: safetensors index, {document.Shards.Count} shards, {document.Tensors.Count} tensors, {Number(allBytes)} bytes of tensor data"
              + (document.TotalSize is long total ? $" (total_size {Number(total)})" : "");
        console.WriteLine(title);
        if (document.Metadata.Count > 0)
        {
            var metadata = new Table().Border(TableBorder.Rounded).Title("Metadata");
            metadata.AddColumn("Key");
            metadata.AddColumn("Value");
            metadata.AddColumn("From");
            foreach (InspectSafeTensorsMetadata m in document.Metadata)
            {
                metadata.AddRow(Markup.Escape(m.Key), Markup.Escape(m.Value), Markup.Escape(m.Source ?? "-"));
            }

            console.Write(metadata);
        }

        bool sharded = document.Shards.Count > 1;
        var tensors = new Table().Border(TableBorder.Rounded).Title("Tensors");
        tensors.AddColumn("Name");
        tensors.AddColumn("DType");
        tensors.AddColumn("Shape");
        tensors.AddColumn(new TableColumn("Bytes").RightAligned());
        tensors.AddColumn("Layout");
        if (sharded)
        {
            tensors.AddColumn("Shard");
        }

        foreach (InspectSafeTensorsTensor t in document.Tensors)
        {
            string[] cells = [Markup.Escape(t.Name), t.DType, Markup.Escape("[" + string.Join(", ", t.Shape) + "]"), Number(t.Bytes), Markup.Escape(t.Layout ?? "-")];
            tensors.AddRow(sharded ? [.. cells, Markup.Escape(t.Shard)] : cells);
        }

        console.Write(tensors);

        var totals = new Table().Border(TableBorder.Rounded).Title("Totals per dtype and layout");
        totals.AddColumn("DType");
        totals.AddColumn("Layout");
        totals.AddColumn(new TableColumn("Tensors").RightAligned());
        totals.AddColumn(new TableColumn("Bytes").RightAligned());
        foreach (var group in document.Tensors.GroupBy(t => (t.DType, Layout: t.Layout ?? "-")).OrderBy(g => g.Key.DType, StringComparer.Ordinal).ThenBy(g => g.Key.Layout, StringComparer.Ordinal))
        {
            totals.AddRow(group.Key.DType, Markup.Escape(group.Key.Layout), Number(group.Count()), Number(group.Sum(t => t.Bytes)));
        }

        totals.AddRow("total", "", Number(document.Tensors.Count), Number(allBytes));
        console.Write(totals);
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>The JSON document <c>quant inspect --format json</c> writes for safetensors.</summary>
/// <param name="File">The file's name.</param>
/// <param name="Format"><c>safetensors</c> for one file, <c>safetensors-index</c> for a sharded checkpoint's index.</param>
/// <param name="Shards">The shard files.</param>
/// <param name="TotalSize">The index's <c>metadata.total_size</c>, if any.</param>
/// <param name="Metadata">The index's metadata and each shard's <c>__metadata__</c>.</param>
/// <param name="Tensors">Every tensor, sorted by name.</param>
internal sealed record InspectSafeTensorsDocument(
    string File, string Format, IReadOnlyList<string> Shards, long? TotalSize,
    IReadOnlyList<InspectSafeTensorsMetadata> Metadata, IReadOnlyList<InspectSafeTensorsTensor> Tensors);

/// <summary>One metadata entry.</summary>
/// <param name="Key">The key.</param>
/// <param name="Value">The value (raw JSON for an index's non-string values).</param>
/// <param name="Source">The shard whose <c>__metadata__</c> holds it, or the index file.</param>
internal sealed record InspectSafeTensorsMetadata(string Key, string Value, string? Source);

/// <summary>One tensor.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">The safetensors dtype, e.g. <c>BF16</c>.</param>
/// <param name="Shape">Dimensions, outermost first.</param>
/// <param name="Shard">The file holding it.</param>
/// <param name="Offset">Offset of its data within that file's data section.</param>
/// <param name="Bytes">Size of its data.</param>
/// <param name="Layout">The quantization layout recognised from its siblings' names, or null for a dense tensor.</param>
internal sealed record InspectSafeTensorsTensor(string Name, string DType, IReadOnlyList<long> Shape, string Shard, long Offset, long Bytes, string? Layout);

/// <summary>Source-generated (reflection-free, trim- and AOT-safe) serializer for the safetensors inspect document.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InspectSafeTensorsDocument))]
internal sealed partial class InspectSafeTensorsJsonContext : JsonSerializerContext;
