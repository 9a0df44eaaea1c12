namespace Quantization.Calibration;

/// <summary>Settings of <see cref="Gptq.Quantize"/>.</summary>
public sealed class GptqOptions
{
    /// <summary>
    /// Added to the diagonal of XᵀX before the factorisation, as a fraction of its mean diagonal (default 0.01). When
    /// the factorisation fails the damping is multiplied by 10 (or set to 0.01 when it was 0), up to
    /// <see cref="MaxDampingRetries"/> times.
    /// </summary>
    public double Damping { get; init; } = 0.01;

    /// <summary>How many times a failed factorisation is retried with ten times the damping (default 4).</summary>
    public int MaxDampingRetries { get; init; } = 4;

    /// <summary>
    /// Columns whose error is spread over the later columns at once (the lazy batch; default 128). It is rounded up to a
    /// multiple of the format's block size. Only speed depends on it: the bytes are the same for every value.
    /// </summary>
    public int BlockSize { get; init; } = 128;

    /// <summary>
    /// Quantize columns in order of decreasing Σx² instead of left to right. A GGUF block format cannot store a
    /// permutation and decides its scales per block of neighbouring columns, so for block formats the order only changes
    /// inside each block, on the per-element path (see <see cref="RoundElements"/>); the whole-block path ignores it. For
    /// formats with one value per block (F32, F16, BF16) the whole row is reordered.
    /// </summary>
    public bool ActOrder { get; init; }

    /// <summary>
    /// When true (the default) and the format codes each element separately (the legacy formats, the K-quants,
    /// IQ4_NL, IQ4_XS, MXFP4, NVFP4, TQ2_0, Q1_0, Q2_0), each block's scales come from the format's own quantizer and
    /// then every element is re-rounded, column by column, to the nearest value those scales can represent, with
    /// the error spread over the later columns after each one. When false, or for the other formats, each block is
    /// quantized as one unit and its error is spread over the columns after the block. In that whole-block path, and
    /// for formats with four levels or fewer per element (Q2_K, TQ2_0, Q1_0, Q2_0), each row then keeps whichever of
    /// its GPTQ result and the format's own importance-weighted quantization has the smaller loss Δ·XᵀX·Δᵀ.
    /// </summary>
    public bool RoundElements { get; init; } = true;

    /// <summary>The most threads to use: −1 (the default) for one per processor, 1 for the calling thread only.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Receives the number of rows finished so far.</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>Stops the work; the call then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; init; }
}
