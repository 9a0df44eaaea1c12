namespace Quantization.Gguf;

/// <summary>The type of a GGUF metadata value. Numeric values equal ggml's <c>gguf_type</c> ids as stored in the file.</summary>
public enum GgufValueType : uint
{
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 0,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 1,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 2,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 3,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 4,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 5,
    /// <summary>IEEE binary32.</summary>
    Float32 = 6,
    /// <summary>One byte; zero is false, anything else true (as ggml reads it).</summary>
    Bool = 7,
    /// <summary>A UTF-8 string: 64-bit byte length, then the bytes, no terminator.</summary>
    String = 8,
    /// <summary>An array: element type, 64-bit count, then the elements (arrays may nest).</summary>
    Array = 9,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 10,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 11,
    /// <summary>IEEE binary64.</summary>
    Float64 = 12,
}
