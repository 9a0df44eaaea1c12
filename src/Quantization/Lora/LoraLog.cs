using Microsoft.Extensions.Logging;

namespace Quantization.Lora;

/// <summary>The log messages of <see cref="LoraMerge"/>.</summary>
internal static partial class LoraLog
{
    [LoggerMessage(301, LogLevel.Information, "Merged the rank-{Rank} adapter into {Tensor}: {BaseType} -> {TargetType}")]
    public static partial void Merged(ILogger logger, string tensor, int rank, string baseType, string targetType);
}
