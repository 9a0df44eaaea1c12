using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json;
using Quantization.Cli.Report;
using Spectre.Console;

namespace Quantization.Cli;

/// <summary>The <c>quant</c> command tree, runnable against any pair of writers so tests can drive it.</summary>
internal static class QuantCommandLine
{
    /// <summary>The command did what was asked.</summary>
    public const int ExitSuccess = 0;

    /// <summary>The arguments were valid but the work failed.</summary>
    public const int ExitRuntimeError = 1;

    /// <summary>The arguments could not be parsed or were out of range.</summary>
    public const int ExitBadArguments = 2;

    private const string UsageHint = "Run 'quant --help' or 'quant <command> --help' for usage.";

    /// <summary>Parses <paramref name="args"/>, runs the chosen command and returns its exit code.</summary>
    /// <param name="args">The command line, without the program name.</param>
    /// <param name="output">Where results and help go.</param>
    /// <param name="error">Where diagnostics go.</param>
    /// <param name="console">The console tables render to; by default a plain one over <paramref name="output"/>
    /// (the program passes <see cref="AnsiConsole.Console"/>, which detects the terminal's colours and width).</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, IAnsiConsole? console = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        RootCommand root = Build(output, error, console ?? CreateConsole(output));
        ParseResult parse = root.Parse(args);
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (parse.Errors.Count > 0)
        {
            // Parse errors take the same "quant: error:" prefix as every other diagnostic.
            foreach (System.CommandLine.Parsing.ParseError problem in parse.Errors)
            {
                error.WriteLine($"quant: error: {problem.Message}");
            }

            error.WriteLine(UsageHint);
            return ExitBadArguments;
        }

        try
        {
            return parse.Invoke(invocation);
        }
        catch (Exception ex)
        {
            // The last line of defence: a failure becomes one readable line and exit code 1, not a stack trace.
            error.WriteLine($"quant: error: {ex.Message}");
            return ExitRuntimeError;
        }
    }

    /// <summary>The <c>--format table|json</c> option every command with a JSON form takes.</summary>
    public static Option<string> FormatOption()
    {
        var format = new Option<string>("--format")
        {
            Description = "Output format.",
            DefaultValueFactory = _ => "table",
            HelpName = "table|json",
        };
        format.AcceptOnlyFromAmong("table", "json");
        return format;
    }

    /// <summary>A plain Spectre console over <paramref name="output"/>: no ANSI codes, no colour, not interactive.</summary>
    public static IAnsiConsole CreateConsole(TextWriter output) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(output),
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
    });

    private static RootCommand Build(TextWriter output, TextWriter error, IAnsiConsole console)
    {
        var rows = new Option<int>("--rows")
        {
            Description = "Rows of the synthetic weight matrix.",
            DefaultValueFactory = _ => QualityReport.DefaultRows,
        };
        var columns = new Option<int>("--columns")
        {
            Description = $"Values per row of the synthetic weight matrix (a multiple of {QualityReport.ColumnMultiple}).",
            DefaultValueFactory = _ => QualityReport.DefaultColumns,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the pseudo-random weights; the same seed gives the same matrix everywhere.",
            DefaultValueFactory = _ => QualityReport.DefaultSeed,
        };
        Option<string> format = FormatOption();
        var threads = new Option<int>("--threads")
        {
            Description = "Threads of the timed matrix-vector product (-1: every core).",
            DefaultValueFactory = _ => 1,
        };

        var report = new Command("report",
            "Quantize a synthetic transformer-like weight matrix into every implemented weight format and print its size " +
            "(bits per weight, GB for 7e9 weights), round-trip error (RMSE, SNR, max error, cosine similarity) and matrix-vector speed (weight GB/s).")
        {
            rows, columns, seed, format, threads,
        };
        report.SetAction(parse =>
        {
            var options = new ReportOptions(parse.GetValue(rows), parse.GetValue(columns), parse.GetValue(seed), parse.GetValue(threads));
            if (QualityReport.Validate(options) is { } problem)
            {
                error.WriteLine($"quant: error: {problem}");
                error.WriteLine(UsageHint);
                return ExitBadArguments;
            }

            return RunReport(options, parse.GetValue(format) == "json", output, console);
        });

        return new RootCommand("quant: quantized tensor formats (llama.cpp / GGUF compatible) from the command line.")
        {
            report,
            Gguf.InspectCommand.Create(output, error, console),
            Gguf.ConvertCommand.Create(error, console),
            Gguf.PlanCommand.Create(output, error, console),
            Lora.MergeLoraCommand.Create(error),
        };
    }

    private static int RunReport(ReportOptions options, bool json, TextWriter output, IAnsiConsole console)
    {
        IReadOnlyList<ReportRow> rows = QualityReport.Compute(options);
        IReadOnlyList<SchemeReportRow> schemeRows = SchemeReport.Compute(options);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(ReportDocument.Create(options, rows, schemeRows), ReportJsonContext.Default.ReportDocument));
        }
        else
        {
            console.Write(ReportTable.Build(options, rows, schemeRows));
            console.Write(Gguf.PresetSizes.Table(Gguf.PresetSizes.All()));
        }

        return ExitSuccess;
    }
}
