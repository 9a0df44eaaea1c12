namespace Quantization.Calibration;

/// <summary>Settings of <see cref="Awq.SearchScales"/> and <see cref="Awq.SearchClip"/>.</summary>
public sealed class AwqOptions
{
    /// <summary>Exponents α tried for s = mean|x|^α: 0, 1/n, …, (n − 1)/n (default 20).</summary>
    public int GridSize { get; init; } = 20;

    /// <summary>Activation rows used to measure the output error; more are subsampled evenly (default 128).</summary>
    public int MaxSamples { get; init; } = 128;

    /// <summary>Shrink ratios tried by <see cref="Awq.SearchClip"/>: 1, 1 − r/n, … down to 1 − <see cref="MaxShrink"/> (default 20).</summary>
    public int ClipGridSize { get; init; } = 20;

    /// <summary>The largest fraction of a block's max |w| that <see cref="Awq.SearchClip"/> may cut off (default 0.5).</summary>
    public double MaxShrink { get; init; } = 0.5;

    /// <summary>Importance passed to the format's quantizer while searching (per-column Σx² of the scaled activations when true, the default).</summary>
    public bool UseImportance { get; init; } = true;

    /// <summary>The most threads to use: −1 (the default) for one per processor, 1 for the calling thread only.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Receives the number of candidates evaluated so far.</summary>
    public IProgress<int>? Progress { get; init; }

    /// <summary>Stops the search; the call then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; init; }
}
