using Microsoft.Extensions.Logging;

namespace Quantization.Gguf;

/// <summary>What loading and writing GGUF files reports: source-generated, allocation-free when the level is off.</summary>
internal static partial class GgufLog
{
    [LoggerMessage(1, LogLevel.Information, "Opened {Source}: GGUF v{Version}, {TensorCount} tensors, {KeyCount} metadata keys, {DataBytes} bytes of tensor data, alignment {Alignment}")]
    public static partial void Opened(ILogger logger, string source, uint version, int tensorCount, int keyCount, long dataBytes, int alignment);

    [LoggerMessage(2, LogLevel.Information, "Model: architecture {Architecture}, name {Name}, file type {FileType}, quantization version {QuantizationVersion}")]
    public static partial void Model(ILogger logger, string architecture, string name, string fileType, string quantizationVersion);

    [LoggerMessage(3, LogLevel.Information, "Tensor types: {TypeCounts}")]
    public static partial void TensorTypes(ILogger logger, string typeCounts);

    [LoggerMessage(4, LogLevel.Debug, "Tensor {Name}: {Type} [{Shape}], {Bytes} bytes at data offset {Offset}")]
    public static partial void Tensor(ILogger logger, string name, string type, string shape, long bytes, long offset);

    [LoggerMessage(5, LogLevel.Warning, "{Source} holds quantized tensors but no general.quantization_version key")]
    public static partial void MissingQuantizationVersion(ILogger logger, string source);

    [LoggerMessage(6, LogLevel.Warning, "Rejected {Source}: {Reason}")]
    public static partial void Rejected(ILogger logger, string source, string reason);

    [LoggerMessage(7, LogLevel.Information, "Wrote {TensorCount} tensors and {KeyCount} metadata keys, {Bytes} bytes")]
    public static partial void Written(ILogger logger, int tensorCount, int keyCount, long bytes);
}
