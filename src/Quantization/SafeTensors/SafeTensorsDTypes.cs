using System.Diagnostics.CodeAnalysis;

namespace Quantization.SafeTensors;

/// <summary>The header names and sizes of <see cref="SafeTensorsDType"/> values.</summary>
public static class SafeTensorsDTypes
{
    private static readonly string[] s_names =
    [
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
    ];

    private static readonly byte[] s_bits = [8, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64];

    private static readonly Dictionary<string, SafeTensorsDType> s_byName = CreateLookup();

    /// <summary>Every defined element type, in declaration (alignment) order.</summary>
    public static IReadOnlyList<SafeTensorsDType> All { get; } = Enum.GetValues<SafeTensorsDType>();

    /// <summary>The name the header spells <paramref name="dtype"/> with, e.g. <c>F8_E4M3</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not defined.</exception>
    public static string GetName(SafeTensorsDType dtype) => s_names[Index(dtype)];

    /// <summary>Bits per value: 4 for <c>F4</c>, 6 for the <c>F6</c> types, 8 to 64 for the others.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not defined.</exception>
    public static int GetBitSize(SafeTensorsDType dtype) => s_bits[Index(dtype)];

    /// <summary>Finds the element type a header name denotes (case-sensitive, as the format is).</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype) => s_byName.TryGetValue(name, out dtype);

    /// <summary>
    /// The bytes <paramref name="elementCount"/> values take: elements × bits / 8, which the format requires to be a
    /// whole number (a sub-byte tensor must fill its last byte).
    /// </summary>
    /// <returns><see langword="false"/> when the bits are not a whole number of bytes or the count overflows.</returns>
    public static bool TryGetByteCount(SafeTensorsDType dtype, long elementCount, out long byteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementCount);
        int bits = GetBitSize(dtype);
        byteCount = 0;
        if (elementCount > long.MaxValue / bits)
        {
            return false;
        }

        long totalBits = elementCount * bits;
        if (totalBits % 8 != 0)
        {
            return false;
        }

        byteCount = totalBits / 8;
        return true;
    }

    private static int Index(SafeTensorsDType dtype)
    {
        if ((uint)dtype >= (uint)s_names.Length)
        {
            ThrowUndefined(dtype);
        }

        return (int)dtype;
    }

    [DoesNotReturn]
    private static void ThrowUndefined(SafeTensorsDType dtype) =>
        throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"{(int)dtype} is not a defined safetensors dtype.");

    private static Dictionary<string, SafeTensorsDType> CreateLookup()
    {
        var lookup = new Dictionary<string, SafeTensorsDType>(s_names.Length, StringComparer.Ordinal);
        for (int i = 0; i < s_names.Length; i++)
        {
            lookup.Add(s_names[i], (SafeTensorsDType)i);
        }

        return lookup;
    }
}
