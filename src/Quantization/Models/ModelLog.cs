using Microsoft.Extensions.Logging;

namespace Quantization.Models;

/// <summary>What <see cref="ModelQuantizer"/> reports: source-generated, allocation-free when the level is off.</summary>
internal static partial class ModelLog
{
    [LoggerMessage(101, LogLevel.Information, "Quantizing {TensorCount} tensors ({Converted} converted), {SourceBytes} bytes in, {TargetBytes} bytes out, {Threads} threads")]
    public static partial void Started(ILogger logger, int tensorCount, int converted, long sourceBytes, long targetBytes, int threads);

    [LoggerMessage(102, LogLevel.Debug, "Tensor {Name}: {SourceType} -> {TargetType} ({Rule})")]
    public static partial void Tensor(ILogger logger, string name, QuantType sourceType, QuantType targetType, string rule);

    [LoggerMessage(103, LogLevel.Information, "Wrote {OutputPath}: {OutputBytes} bytes in {Seconds:0.00} s")]
    public static partial void Finished(ILogger logger, string outputPath, long outputBytes, double seconds);

    [LoggerMessage(104, LogLevel.Warning, "Stopped before {OutputPath} was complete ({Reason}); no partial file is left")]
    public static partial void Stopped(ILogger logger, string outputPath, string reason);
}
