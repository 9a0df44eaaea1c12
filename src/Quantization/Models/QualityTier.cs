namespace Quantization.Models;

/// <summary>
/// What a preset costs in quality, in plain words: the classes practitioners use to choose a file
/// (<see cref="QuantizationQuality.GetTier"/>).
/// </summary>
public enum QualityTier
{
    /// <summary>Indistinguishable from 16-bit in use: Q8_0, Q6_K, the Q5 presets and 16-bit files.</summary>
    NearLossless = 0,

    /// <summary>The usual default: the Q4 presets (Q4_K_M, Q4_K_S, IQ4_XS, IQ4_NL, Q4_0, Q4_1).</summary>
    RecommendedDefault = 1,

    /// <summary>Visible quality loss; a choice for a hard memory limit: the Q3 and IQ3 presets.</summary>
    VisibleLoss = 2,

    /// <summary>For experiments: the 2-bit and lower presets (Q2_K, IQ2, IQ1, ternary).</summary>
    Experimental = 3,
}
