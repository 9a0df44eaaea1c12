using Microsoft.Extensions.Logging;

namespace Quantization.Cli.Gguf;

/// <summary>A minimal logger that writes "level: message" lines to a text writer (the tool's error stream).</summary>
internal sealed class ConsoleLogger(TextWriter writer, LogLevel minimum) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        string level = logLevel switch
        {
            LogLevel.Trace => "trace",
            LogLevel.Debug => "debug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
        lock (writer)
        {
            writer.WriteLine($"quant: {level}: {formatter(state, exception)}");
        }
    }
}
