using System.Text.Json;
using Quantization.Cli;
using Quantization.Cli.Report;

namespace Quantization.Tests.Tools;

public sealed class QuantCommandLineTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = QuantCommandLine.Run(args, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public void ReportPrintsATableRowPerFormat()
    {
        var (exitCode, output, error) = Run("report", "--rows", "8", "--columns", "512", "--seed", "3");

        Assert.Equal(QuantCommandLine.ExitSuccess, exitCode);
        Assert.Empty(error);
        Assert.Contains("SNR dB", output, StringComparison.Ordinal);
        Assert.Contains("8 x 512", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", output, StringComparison.Ordinal); // no ANSI codes when not a terminal
        foreach (QuantFormat format in QualityReport.WeightFormats())
        {
            Assert.Contains($" {format.Name} ", output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(" q8_1 ", output, StringComparison.Ordinal);
        Assert.Contains(" inf ", output, StringComparison.Ordinal); // F32 is exact
    }

    [Fact]
    public void ReportWritesJson()
    {
        var (exitCode, output, error) = Run("report", "--rows", "4", "--columns", "256", "--format", "json");

        Assert.Equal(QuantCommandLine.ExitSuccess, exitCode);
        Assert.Empty(error);
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement matrix = json.RootElement.GetProperty("matrix");
        Assert.Equal(4, matrix.GetProperty("rows").GetInt32());
        Assert.Equal(256, matrix.GetProperty("columns").GetInt32());
        Assert.Equal(QualityReport.DefaultSeed, matrix.GetProperty("seed").GetUInt64());

        JsonElement[] formats = [.. json.RootElement.GetProperty("formats").EnumerateArray()];
        Assert.Equal(QualityReport.WeightFormats().Select(f => f.Name), formats.Select(f => f.GetProperty("format").GetString()));

        JsonElement q4 = formats.Single(f => f.GetProperty("type").GetString() == "Q4_0");
        Assert.Equal(4.5, q4.GetProperty("bitsPerWeight").GetDouble());
        Assert.Equal(3.9375, q4.GetProperty("model7BGigabytes").GetDouble());
        Assert.InRange(q4.GetProperty("snrDecibels").GetDouble(), 10, 30);
        Assert.True(q4.GetProperty("rmse").GetDouble() > 0);
        Assert.True(q4.GetProperty("maxAbsoluteError").GetDouble() > 0);
        Assert.InRange(q4.GetProperty("cosineSimilarity").GetDouble(), 0.9, 1);

        // Strict JSON: an exact round trip's infinite SNR is null, explained in the notes; no "Infinity" or "NaN" anywhere.
        JsonElement f32 = formats.Single(f => f.GetProperty("format").GetString() == "f32");
        Assert.Equal(JsonValueKind.Null, f32.GetProperty("snrDecibels").ValueKind);
        Assert.Contains("null", json.RootElement.GetProperty("notes").GetString());
        Assert.DoesNotContain("Infinity", output);
        Assert.DoesNotContain("NaN", output);
    }

    [Fact]
    public void JsonMatchesTheComputedReport()
    {
        var options = new ReportOptions(4, 512, 5);
        var (exitCode, output, _) = Run("report", "--rows", "4", "--columns", "512", "--seed", "5", "--format", "json");
        ReportDocument? document = JsonSerializer.Deserialize(output, ReportJsonContext.Default.ReportDocument);

        Assert.Equal(0, exitCode);
        Assert.NotNull(document);
        // Everything but the timed speed is deterministic; the speed must be a positive rate (every weight format multiplies).
        static FormatEntry Untimed(FormatEntry e) => e with { MatVecGigabytesPerSecond = 0 };
        Assert.Equal(ReportDocument.Create(options, QualityReport.Compute(options)).Formats.Select(Untimed), document.Formats.Select(Untimed));
        Assert.All(document.Formats, e => Assert.True(e.MatVecGigabytesPerSecond is > 0 and < double.PositiveInfinity, $"{e.Format}: {e.MatVecGigabytesPerSecond}"));
    }

    [Fact]
    public void ThreadsOptionIsValidated()
    {
        Assert.Equal(QuantCommandLine.ExitBadArguments, Run("report", "--threads", "0").ExitCode);
        Assert.Equal(QuantCommandLine.ExitBadArguments, Run("report", "--threads", "-2").ExitCode);
        Assert.Equal(QuantCommandLine.ExitSuccess, Run("report", "--rows", "2", "--columns", "256", "--threads", "2").ExitCode);
    }

    [Theory]
    [InlineData("report", "--format", "xml")]
    [InlineData("report", "--rows", "0")]
    [InlineData("report", "--rows", "many")]
    [InlineData("report", "--columns", "100")]
    [InlineData("report", "--rows", "65536", "--columns", "65536")]
    [InlineData("report", "--seed", "-1")]
    [InlineData("report", "--bogus")]
    [InlineData("frobnicate")]
    [InlineData]
    public void BadArgumentsExitWithTwo(params string[] args)
    {
        var (exitCode, output, error) = Run(args);

        Assert.Equal(QuantCommandLine.ExitBadArguments, exitCode);
        Assert.Contains("--help", error, StringComparison.Ordinal);
        Assert.DoesNotContain("SNR", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("report", "--help")]
    public void HelpExitsWithZero(params string[] args)
    {
        var (exitCode, output, _) = Run(args);

        Assert.Equal(QuantCommandLine.ExitSuccess, exitCode);
        Assert.Contains("report", output, StringComparison.Ordinal);
    }

    [Fact]
    public void RuntimeFailureExitsWithOne()
    {
        using var error = new StringWriter();
        int exitCode = QuantCommandLine.Run(["report", "--rows", "2", "--columns", "256", "--format", "json"], new FailingWriter(), error);

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Contains("disk full", error.ToString(), StringComparison.Ordinal);
    }

    private sealed class FailingWriter : StringWriter
    {
        public override void Write(char value) => throw new IOException("disk full");

        public override void Write(string? value) => throw new IOException("disk full");

        public override void WriteLine(string? value) => throw new IOException("disk full");
    }
}
