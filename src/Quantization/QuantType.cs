namespace Quantization;

/// <summary>
/// A tensor element type. Numeric values equal ggml's <c>ggml_type</c> ids, so a value read from a GGUF
/// file can be cast to <see cref="QuantType"/> directly. Ids that ggml removed (4, 5, 31-33, 36-38) are not defined.
/// </summary>
public enum QuantType
{
    /// <summary>IEEE binary32, 32 bits per weight.</summary>
    F32 = 0,
    /// <summary>IEEE binary16, 16 bits per weight.</summary>
    F16 = 1,
    /// <summary>Blocks of 32: FP16 scale and 4-bit codes, w = d·(q − 8).</summary>
    Q4_0 = 2,
    /// <summary>Blocks of 32: FP16 scale and min and 4-bit codes, w = d·q + m.</summary>
    Q4_1 = 3,
    /// <summary>Blocks of 32: FP16 scale and 5-bit codes, w = d·(q − 16).</summary>
    Q5_0 = 6,
    /// <summary>Blocks of 32: FP16 scale and min and 5-bit codes, w = d·q + m.</summary>
    Q5_1 = 7,
    /// <summary>Blocks of 32: FP16 scale and 8-bit signed codes, w = d·q.</summary>
    Q8_0 = 8,
    /// <summary>Blocks of 32: like <see cref="Q8_0"/> plus the FP16 sum d·Σq (activations for Q4_1 / Q5_1 dot products).</summary>
    Q8_1 = 9,
    /// <summary>K-quant, super-blocks of 256, 2-bit codes with 4-bit scales and mins.</summary>
    Q2_K = 10,
    /// <summary>K-quant, super-blocks of 256, 3-bit codes with 6-bit scales.</summary>
    Q3_K = 11,
    /// <summary>K-quant, super-blocks of 256, 4-bit codes with 6-bit scales and mins.</summary>
    Q4_K = 12,
    /// <summary>K-quant, super-blocks of 256, 5-bit codes with 6-bit scales and mins.</summary>
    Q5_K = 13,
    /// <summary>K-quant, super-blocks of 256, 6-bit codes with 8-bit scales.</summary>
    Q6_K = 14,
    /// <summary>Super-blocks of 256: float32 scale, 8-bit codes and 16-element sums (activations for K-quant dot products).</summary>
    Q8_K = 15,
    /// <summary>ggml IQ2_XXS (importance-only 2-bit lattice format).</summary>
    IQ2_XXS = 16,
    /// <summary>ggml IQ2_XS.</summary>
    IQ2_XS = 17,
    /// <summary>ggml IQ3_XXS.</summary>
    IQ3_XXS = 18,
    /// <summary>ggml IQ1_S.</summary>
    IQ1_S = 19,
    /// <summary>Blocks of 32: FP16 scale and 4-bit indices into a non-linear table.</summary>
    IQ4_NL = 20,
    /// <summary>ggml IQ3_S.</summary>
    IQ3_S = 21,
    /// <summary>ggml IQ2_S.</summary>
    IQ2_S = 22,
    /// <summary>Super-blocks of 256: non-linear 4-bit indices with 6-bit sub-block scales.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit signed integer.</summary>
    I8 = 24,
    /// <summary>16-bit signed integer.</summary>
    I16 = 25,
    /// <summary>32-bit signed integer.</summary>
    I32 = 26,
    /// <summary>64-bit signed integer.</summary>
    I64 = 27,
    /// <summary>IEEE binary64.</summary>
    F64 = 28,
    /// <summary>ggml IQ1_M.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16 (the upper 16 bits of a binary32, rounded to nearest even).</summary>
    BF16 = 30,
    /// <summary>Ternary, super-blocks of 256, base-3 packed trits (1.6875 bits per weight).</summary>
    TQ1_0 = 34,
    /// <summary>Ternary, super-blocks of 256, 2-bit codes.</summary>
    TQ2_0 = 35,
    /// <summary>Blocks of 32: E2M1 codes with an E8M0 shared exponent.</summary>
    MXFP4 = 39,
    /// <summary>Blocks of 64: E2M1 codes with four UE4M3 scales.</summary>
    NVFP4 = 40,
    /// <summary>Blocks of 128: sign bits with an FP16 scale.</summary>
    Q1_0 = 41,
    /// <summary>Blocks of 64: 2-bit codes {−1, 0, 1, 2} with an FP16 scale.</summary>
    Q2_0 = 42,

    // Formats outside ggml: ids from 1000 up, so they never collide with a ggml_type id.

    /// <summary>bitsandbytes 4-bit NormalFloat (QLoRA): blocks of 64, float32 absmax then 32 bytes of codes (4.5 bits per weight).</summary>
    NF4 = 1000,
    /// <summary>bitsandbytes 4-bit float (1 sign, 2 exponent, 1 mantissa bits): blocks of 64, float32 absmax then 32 bytes of codes.</summary>
    FP4 = 1001,
    /// <summary>bitnet.cpp ternary I2_S: blocks of 128 two-bit codes {−1, 0, +1} and one float32 scale per tensor.</summary>
    I2_S = 1002,
    /// <summary>
    /// bitnet.cpp's per-token int8 activations (the I8_S of its CPU kernels): one signed 8-bit code per value, then a
    /// 32-byte trailer with the float32 scale s = 127 / max|x| and the int32 sum of the codes; a value is about q / s.
    /// The activation format of <see cref="I2_S"/> dot products. Like I2_S it has a per-tensor trailer, so
    /// <see cref="Quantizer.Quantize"/> treats its whole source as one token; for many tokens use
    /// <see cref="Ternary.BitNetQuantizer.QuantizeActivations"/>.
    /// </summary>
    I8_S = 1003,
}
