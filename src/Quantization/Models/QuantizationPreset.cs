namespace Quantization.Models;

/// <summary>
/// llama.cpp's model file types (<c>llama_ftype</c>, the GGUF key <c>general.file_type</c>): the presets of llama-quantize.
/// Most are mixes: a default type plus per-tensor rules (<see cref="QuantizationRecipe"/>). The values are llama.cpp's ids.
/// </summary>
public enum QuantizationPreset
{
    /// <summary>Every weight matrix in F16.</summary>
    F16 = 1,
    /// <summary>Q4_0, with Q6_K output.</summary>
    Q4_0 = 2,
    /// <summary>Q4_1, with Q6_K output.</summary>
    Q4_1 = 3,
    /// <summary>Q8_0 everywhere.</summary>
    Q8_0 = 7,
    /// <summary>Q5_0, with Q6_K output.</summary>
    Q5_0 = 8,
    /// <summary>Q5_1, with Q6_K output.</summary>
    Q5_1 = 9,
    /// <summary>Q2_K, with Q3_K/Q4_K attention values, Q3_K feed-forward-down and attention output.</summary>
    Q2_K = 10,
    /// <summary>Q3_K, small.</summary>
    Q3_K_S = 11,
    /// <summary>Q3_K with Q4_K/Q5_K attention values, feed-forward-down and attention output.</summary>
    Q3_K_M = 12,
    /// <summary>Q3_K with Q5_K attention values, feed-forward-down and attention output.</summary>
    Q3_K_L = 13,
    /// <summary>Q4_K, with Q5_K on the first attention values and feed-forward-down layers.</summary>
    Q4_K_S = 14,
    /// <summary>Q4_K, with Q6_K on half of the attention-value and feed-forward-down tensors.</summary>
    Q4_K_M = 15,
    /// <summary>Q5_K.</summary>
    Q5_K_S = 16,
    /// <summary>Q5_K, with Q6_K on half of the attention-value and feed-forward-down tensors.</summary>
    Q5_K_M = 17,
    /// <summary>Q6_K.</summary>
    Q6_K = 18,
    /// <summary>IQ2_XXS (needs an importance matrix).</summary>
    IQ2_XXS = 19,
    /// <summary>IQ2_XS (needs an importance matrix).</summary>
    IQ2_XS = 20,
    /// <summary>Q2_K, small (needs an importance matrix).</summary>
    Q2_K_S = 21,
    /// <summary>IQ3_S with IQ3_XXS on attention queries/keys and most feed-forward gate/up tensors.</summary>
    IQ3_XS = 22,
    /// <summary>IQ3_XXS (needs an importance matrix).</summary>
    IQ3_XXS = 23,
    /// <summary>IQ1_S (needs an importance matrix).</summary>
    IQ1_S = 24,
    /// <summary>IQ4_NL.</summary>
    IQ4_NL = 25,
    /// <summary>IQ3_S.</summary>
    IQ3_S = 26,
    /// <summary>IQ3_S with Q4_K attention values, output and first feed-forward-down layers.</summary>
    IQ3_M = 27,
    /// <summary>IQ2_XS with IQ3_S attention values (needs an importance matrix).</summary>
    IQ2_S = 28,
    /// <summary>IQ2_S with IQ3_S attention values (needs an importance matrix).</summary>
    IQ2_M = 29,
    /// <summary>IQ4_XS.</summary>
    IQ4_XS = 30,
    /// <summary>IQ1_M (needs an importance matrix).</summary>
    IQ1_M = 31,
    /// <summary>Every weight matrix in BF16.</summary>
    BF16 = 32,
    /// <summary>TQ1_0 ternary, with Q4_K token embeddings.</summary>
    TQ1_0 = 36,
    /// <summary>TQ2_0 ternary, with Q4_K token embeddings.</summary>
    TQ2_0 = 37,
    /// <summary>Experts (3-D tensors) in MXFP4, everything else in Q8_0.</summary>
    MXFP4_MOE = 38,
}
