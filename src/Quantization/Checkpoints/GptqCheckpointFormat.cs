namespace Quantization.Checkpoints;

/// <summary>How a GPTQ checkpoint stores its zero points (docs/formats.md#gptq).</summary>
public enum GptqCheckpointFormat
{
    /// <summary>auto-gptq's format (<c>"gptq"</c>): each packed zero point is the real one minus 1, so the reader adds 1.</summary>
    Gptq,

    /// <summary>GPTQModel's format (<c>"gptq_v2"</c>): the packed zero points are the real ones.</summary>
    GptqV2,
}
