using System.Diagnostics.CodeAnalysis;

namespace Quantization.Models;

/// <summary>Names and default types of the <see cref="QuantizationPreset"/> values.</summary>
public static class QuantizationPresets
{
    /// <summary>Every preset, in llama.cpp's id order.</summary>
    public static IReadOnlyList<QuantizationPreset> All { get; } = [.. Enum.GetValues<QuantizationPreset>().OrderBy(p => (int)p)];

    /// <summary>The preset's name as llama-quantize spells it (e.g. "Q4_K_M").</summary>
    public static string GetName(QuantizationPreset preset) => Enum.IsDefined(preset)
        ? preset.ToString()
        : throw new ArgumentOutOfRangeException(nameof(preset), preset, "Not a preset.");

    /// <summary>Parses a preset name, case-insensitively ("q4_k_m", "Q4_K_M").</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out QuantizationPreset? preset)
    {
        foreach (QuantizationPreset p in All)
        {
            if (string.Equals(p.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                preset = p;
                return true;
            }
        }

        preset = null;
        return false;
    }

    /// <summary>
    /// The type of the tensors no rule moves elsewhere (llama.cpp's <c>llama_ftype_get_default_type</c>): e.g. Q4_K for
    /// Q4_K_M, IQ2_XS for IQ2_S, IQ3_S for IQ3_XS, MXFP4 for MXFP4_MOE.
    /// </summary>
    public static QuantType GetDefaultType(QuantizationPreset preset) => preset switch
    {
        QuantizationPreset.F16 => QuantType.F16,
        QuantizationPreset.BF16 => QuantType.BF16,
        QuantizationPreset.Q4_0 => QuantType.Q4_0,
        QuantizationPreset.Q4_1 => QuantType.Q4_1,
        QuantizationPreset.Q5_0 => QuantType.Q5_0,
        QuantizationPreset.Q5_1 => QuantType.Q5_1,
        QuantizationPreset.Q8_0 => QuantType.Q8_0,
        QuantizationPreset.MXFP4_MOE => QuantType.MXFP4,
        QuantizationPreset.Q2_K or QuantizationPreset.Q2_K_S => QuantType.Q2_K,
        QuantizationPreset.Q3_K_S or QuantizationPreset.Q3_K_M or QuantizationPreset.Q3_K_L => QuantType.Q3_K,
        QuantizationPreset.Q4_K_S or QuantizationPreset.Q4_K_M => QuantType.Q4_K,
        QuantizationPreset.Q5_K_S or QuantizationPreset.Q5_K_M => QuantType.Q5_K,
        QuantizationPreset.Q6_K => QuantType.Q6_K,
        QuantizationPreset.TQ1_0 => QuantType.TQ1_0,
        QuantizationPreset.TQ2_0 => QuantType.TQ2_0,
        QuantizationPreset.IQ2_XXS => QuantType.IQ2_XXS,
        QuantizationPreset.IQ2_XS or QuantizationPreset.IQ2_S => QuantType.IQ2_XS,
        QuantizationPreset.IQ2_M => QuantType.IQ2_S,
        QuantizationPreset.IQ3_XXS => QuantType.IQ3_XXS,
        QuantizationPreset.IQ1_S => QuantType.IQ1_S,
        QuantizationPreset.IQ1_M => QuantType.IQ1_M,
        QuantizationPreset.IQ4_NL => QuantType.IQ4_NL,
        QuantizationPreset.IQ4_XS => QuantType.IQ4_XS,
        QuantizationPreset.IQ3_XS or QuantizationPreset.IQ3_S or QuantizationPreset.IQ3_M => QuantType.IQ3_S,
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, "Not a preset."),
    };
}
