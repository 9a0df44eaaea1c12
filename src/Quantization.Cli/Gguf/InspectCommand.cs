using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Quantization.Gguf;
using Spectre.Console;

namespace Quantization.Cli.Gguf;

/// <summary><c>quant inspect FILE</c>: the metadata, a tensor table and totals per type of a GGUF file (safetensors files and indexes go to <see cref="SafeTensors.SafeTensorsInspect"/>).</summary>
internal static class InspectCommand
{
    public static Command Create(TextWriter output, TextWriter error, IAnsiConsole console)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The GGUF file, safetensors file or model.safetensors.index.json to inspect." };
        Option<string> format = QuantCommandLine.FormatOption();
        var command = new Command("inspect", "Show a GGUF or safetensors file's metadata, its tensors (name, type, shape, bytes, bits per weight or recognised quantization layout) and totals per type.")
        {
            file,
            format,
        };
        command.SetAction(parse =>
        {
            FileInfo path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                error.WriteLine($"quant: error: file not found: {path.FullName}");
                return QuantCommandLine.ExitBadArguments;
            }

            if (SafeTensors.SafeTensorsInspect.Handles(path.FullName))
            {
                return SafeTensors.SafeTensorsInspect.Run(path, parse.GetValue(format) == "json", output, error, console);
            }

            try
            {
                using GgufFile gguf = GgufFile.Open(path.FullName);
                if (parse.GetValue(format) == "json")
                {
                    output.WriteLine(JsonSerializer.Serialize(InspectDocument.Create(gguf, path.Name), InspectJsonContext.Default.InspectDocument));
                }
                else
                {
                    Render(gguf, path.Name, console);
                }

                return QuantCommandLine.ExitSuccess;
            }
            catch (InvalidDataException ex)
            {
                error.WriteLine($"quant: error: {path.Name}: {ex.Message}");
                return QuantCommandLine.ExitRuntimeError;
            }
        });
        return command;
    }

    private static void Render(GgufFile gguf, string name, IAnsiConsole console)
    {
        var metadata = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{name}: GGUF v{gguf.Version}, {gguf.Metadata.Count} metadata keys, {gguf.Tensors.Count} tensors, alignment {gguf.Alignment}"));
        metadata.AddColumn("Key");
        metadata.AddColumn("Type");
        metadata.AddColumn("Value");
        foreach (KeyValuePair<string, GgufValue> kv in gguf.Metadata)
        {
            GgufValue v = kv.Value;
            string type = v.IsArray ? $"{v.ElementType}[{v.Count}]" : v.Type.ToString();
            metadata.AddRow(Markup.Escape(kv.Key), Markup.Escape(type), Markup.Escape(v.Type == GgufValueType.String ? v.AsString() : v.ToString()));
        }

        console.Write(metadata);

        var tensors = new Table().Border(TableBorder.Rounded).Title("Tensors");
        tensors.AddColumn("Name");
        tensors.AddColumn("Type");
        tensors.AddColumn("Shape");
        tensors.AddColumn(new TableColumn("Bytes").RightAligned());
        tensors.AddColumn(new TableColumn("Bits/w").RightAligned());
        var totals = new SortedDictionary<string, (int Count, long Elements, long Bytes)>(StringComparer.Ordinal);
        long allElements = 0, allBytes = 0;
        foreach (GgufTensorInfo t in gguf.Tensors)
        {
            tensors.AddRow(Markup.Escape(t.Name), Markup.Escape(t.Format.Name), Markup.Escape(t.ShapeText), Number(t.ByteCount), Bits(t.ByteCount, t.ElementCount));
            (int count, long elements, long bytes) = totals.GetValueOrDefault(t.Format.Name);
            totals[t.Format.Name] = (count + 1, elements + t.ElementCount, bytes + t.ByteCount);
            allElements += t.ElementCount;
            allBytes += t.ByteCount;
        }

        console.Write(tensors);

        var byType = new Table().Border(TableBorder.Rounded).Title("Totals per type");
        byType.AddColumn("Type");
        byType.AddColumn(new TableColumn("Tensors").RightAligned());
        byType.AddColumn(new TableColumn("Weights").RightAligned());
        byType.AddColumn(new TableColumn("Bytes").RightAligned());
        byType.AddColumn(new TableColumn("Bits/w").RightAligned());
        foreach ((string type, (int count, long elements, long bytes)) in totals)
        {
            byType.AddRow(Markup.Escape(type), Number(count), Number(elements), Number(bytes), Bits(bytes, elements));
        }

        byType.AddRow("total", Number(gguf.Tensors.Count), Number(allElements), Number(allBytes), Bits(allBytes, allElements));
        console.Write(byType);
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bits(long bytes, long elements) =>
        elements == 0 ? "-" : (8.0 * bytes / elements).ToString("0.000", CultureInfo.InvariantCulture);
}

/// <summary>The JSON document <c>quant inspect --format json</c> writes.</summary>
/// <param name="File">The file's name.</param>
/// <param name="Version">GGUF version.</param>
/// <param name="Alignment">Data alignment in bytes.</param>
/// <param name="Metadata">Every key in file order, its type and its value as text.</param>
/// <param name="Tensors">Every tensor in file order.</param>
internal sealed record InspectDocument(string File, uint Version, int Alignment, IReadOnlyList<InspectMetadata> Metadata, IReadOnlyList<InspectTensor> Tensors)
{
    public static InspectDocument Create(GgufFile gguf, string name) => new(
        name, gguf.Version, gguf.Alignment,
        [.. gguf.Metadata.Select(kv => new InspectMetadata(
            kv.Key,
            kv.Value.IsArray ? $"{kv.Value.ElementType}[{kv.Value.Count}]" : kv.Value.Type.ToString(),
            kv.Value.Type == GgufValueType.String ? kv.Value.AsString() : kv.Value.ToString()))],
        [.. gguf.Tensors.Select(t => new InspectTensor(
            t.Name, t.Format.Name, [.. t.Dimensions], t.Offset, t.ByteCount,
            t.ElementCount == 0 ? null : 8.0 * t.ByteCount / t.ElementCount))]);
}

/// <summary>One metadata key.</summary>
/// <param name="Key">The key.</param>
/// <param name="Type">Its GGUF type (arrays: element type and count).</param>
/// <param name="Value">Its value as text (arrays abbreviated).</param>
internal sealed record InspectMetadata(string Key, string Type, string Value);

/// <summary>One tensor.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Type">ggml's type name.</param>
/// <param name="Shape">Dimensions, innermost first (as GGUF stores them).</param>
/// <param name="Offset">Offset of its data within the data section.</param>
/// <param name="Bytes">Size of its data.</param>
/// <param name="BitsPerWeight">Bits per value; null for an empty tensor.</param>
internal sealed record InspectTensor(string Name, string Type, IReadOnlyList<long> Shape, long Offset, long Bytes, double? BitsPerWeight);

/// <summary>Source-generated (reflection-free, trim- and AOT-safe) serializer for the inspect document.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InspectDocument))]
internal sealed partial class InspectJsonContext : JsonSerializerContext;
