using System.CommandLine;
using System.Globalization;
using Quantization.Gguf;
using Spectre.Console;

namespace Quantization.Cli.Gguf;

/// <summary><c>quant inspect FILE</c>: the metadata, a tensor table and totals per type of a GGUF file.</summary>
internal static class InspectCommand
{
    public static Command Create(TextWriter error, IAnsiConsole console)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The GGUF file to inspect." };
        var command = new Command("inspect", "Show a GGUF file's metadata, its tensors (name, type, shape, bytes, bits per weight) and totals per type.")
        {
            file,
        };
        command.SetAction(parse =>
        {
            FileInfo path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                error.WriteLine($"quant: error: file not found: {path.FullName}");
                return QuantCommandLine.ExitBadArguments;
            }

            try
            {
                using GgufFile gguf = GgufFile.Open(path.FullName);
                Render(gguf, path.Name, console);
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
