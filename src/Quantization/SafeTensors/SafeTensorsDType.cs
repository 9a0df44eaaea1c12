namespace Quantization.SafeTensors;

/// <summary>
/// The element types of the safetensors format, in the order the reference implementation declares them: increasing
/// alignment, which is also the order its writer sorts tensors by (largest first) so that every tensor's data starts
/// aligned to its element size.
/// </summary>
public enum SafeTensorsDType
{
    /// <summary><c>BOOL</c>: one byte per value, 0 or 1.</summary>
    Bool,

    /// <summary><c>F4</c>: OCP MX FP4 (E2M1), 4 bits per value, two values per byte.</summary>
    F4,

    /// <summary><c>F6_E2M3</c>: OCP MX FP6 with 2 exponent and 3 mantissa bits, 6 bits per value.</summary>
    F6E2M3,

    /// <summary><c>F6_E3M2</c>: OCP MX FP6 with 3 exponent and 2 mantissa bits, 6 bits per value.</summary>
    F6E3M2,

    /// <summary><c>U8</c>: unsigned byte.</summary>
    U8,

    /// <summary><c>I8</c>: signed byte.</summary>
    I8,

    /// <summary><c>F8_E5M2</c>: FP8 with 5 exponent and 2 mantissa bits (IEEE-like, with infinities).</summary>
    F8E5M2,

    /// <summary><c>F8_E4M3</c>: FP8 with 4 exponent and 3 mantissa bits, the "FN" variant (no infinities, max 448).</summary>
    F8E4M3,

    /// <summary><c>F8_E8M0</c>: OCP MX scale, an unsigned power of two 2^(code − 127); 0xFF is NaN.</summary>
    F8E8M0,

    /// <summary><c>F8_E4M3FNUZ</c>: FP8 E4M3 with no negative zero (bias 8).</summary>
    F8E4M3Fnuz,

    /// <summary><c>F8_E5M2FNUZ</c>: FP8 E5M2 with no negative zero (bias 16).</summary>
    F8E5M2Fnuz,

    /// <summary><c>I16</c>: signed 16-bit integer.</summary>
    I16,

    /// <summary><c>U16</c>: unsigned 16-bit integer.</summary>
    U16,

    /// <summary><c>F16</c>: IEEE binary16.</summary>
    F16,

    /// <summary><c>BF16</c>: bfloat16, the upper half of a binary32.</summary>
    BF16,

    /// <summary><c>I32</c>: signed 32-bit integer.</summary>
    I32,

    /// <summary><c>U32</c>: unsigned 32-bit integer.</summary>
    U32,

    /// <summary><c>F32</c>: IEEE binary32.</summary>
    F32,

    /// <summary><c>C64</c>: complex number of two binary32 parts (real, imaginary).</summary>
    C64,

    /// <summary><c>F64</c>: IEEE binary64.</summary>
    F64,

    /// <summary><c>I64</c>: signed 64-bit integer.</summary>
    I64,

    /// <summary><c>U64</c>: unsigned 64-bit integer.</summary>
    U64,
}
