using System.Diagnostics.CodeAnalysis;

namespace Quantization;

/// <summary>Throw helpers kept out of hot methods so callers stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowUnknownType(QuantType type) =>
        throw new ArgumentOutOfRangeException(nameof(type), type, $"{(int)type} is not a defined quantization type id.");

    [DoesNotReturn]
    public static void ThrowNotSupported(QuantType type, string operation) =>
        throw new NotSupportedException($"{operation} is not implemented for {type} in this version of Quantization.");

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowNonFinite(string paramName, long index, float value) =>
        throw new ArgumentException(
            $"{paramName}[{index}] is {value}; NaN and infinite values cannot be quantized. Clean or clamp the data first.",
            paramName);
}
