using System.Globalization;
using System.Text;

namespace Quantization.Gguf;

/// <summary>
/// One GGUF metadata value: a scalar of one of the twelve element types, or an array (of scalars, strings or
/// arrays). Immutable. Arrays are held as typed .NET arrays (<c>float[]</c>, <c>string[]</c>, ...; nested arrays as
/// <see cref="GgufValue"/>[]), so large vocabularies cost one allocation per array, not one per element.
/// </summary>
public sealed class GgufValue
{
    private readonly object _value;

    private GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        _value = value;
    }

    /// <summary>The value's type; <see cref="GgufValueType.Array"/> for arrays.</summary>
    public GgufValueType Type { get; }

    /// <summary>For an array, the type of its elements; for a scalar, the same as <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>Whether this is an array.</summary>
    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>The number of elements of an array; 1 for a scalar.</summary>
    public int Count => _value is System.Array a ? a.Length : 1;

    /// <summary>Creates a UINT8 value.</summary>
    public static GgufValue FromUInt8(byte value) => new(GgufValueType.UInt8, GgufValueType.UInt8, value);

    /// <summary>Creates an INT8 value.</summary>
    public static GgufValue FromInt8(sbyte value) => new(GgufValueType.Int8, GgufValueType.Int8, value);

    /// <summary>Creates a UINT16 value.</summary>
    public static GgufValue FromUInt16(ushort value) => new(GgufValueType.UInt16, GgufValueType.UInt16, value);

    /// <summary>Creates an INT16 value.</summary>
    public static GgufValue FromInt16(short value) => new(GgufValueType.Int16, GgufValueType.Int16, value);

    /// <summary>Creates a UINT32 value.</summary>
    public static GgufValue FromUInt32(uint value) => new(GgufValueType.UInt32, GgufValueType.UInt32, value);

    /// <summary>Creates an INT32 value.</summary>
    public static GgufValue FromInt32(int value) => new(GgufValueType.Int32, GgufValueType.Int32, value);

    /// <summary>Creates a FLOAT32 value.</summary>
    public static GgufValue FromFloat32(float value) => new(GgufValueType.Float32, GgufValueType.Float32, value);

    /// <summary>Creates a BOOL value.</summary>
    public static GgufValue FromBool(bool value) => new(GgufValueType.Bool, GgufValueType.Bool, value);

    /// <summary>Creates a STRING value.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    public static GgufValue FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GgufValueType.String, GgufValueType.String, value);
    }

    /// <summary>Creates a UINT64 value.</summary>
    public static GgufValue FromUInt64(ulong value) => new(GgufValueType.UInt64, GgufValueType.UInt64, value);

    /// <summary>Creates an INT64 value.</summary>
    public static GgufValue FromInt64(long value) => new(GgufValueType.Int64, GgufValueType.Int64, value);

    /// <summary>Creates a FLOAT64 value.</summary>
    public static GgufValue FromFloat64(double value) => new(GgufValueType.Float64, GgufValueType.Float64, value);

    /// <summary>
    /// Creates an array from a copy of <paramref name="elements"/>. <typeparamref name="T"/> selects the element type:
    /// <see cref="byte"/>, <see cref="sbyte"/>, <see cref="ushort"/>, <see cref="short"/>, <see cref="uint"/>,
    /// <see cref="int"/>, <see cref="float"/>, <see cref="bool"/>, <see cref="string"/>, <see cref="ulong"/>,
    /// <see cref="long"/>, <see cref="double"/>, or <see cref="GgufValue"/> (each element itself an array) for nesting.
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not one of those types, an element is null, or a nested element is not an array.</exception>
    public static GgufValue FromArray<T>(ReadOnlySpan<T> elements)
    {
        GgufValueType elementType = ElementTypeOf<T>();
        T[] copy = elements.ToArray();
        foreach (T element in copy)
        {
            if (element is null)
            {
                ThrowHelper.ThrowArgument(nameof(elements), "Array elements cannot be null.");
            }

            if (element is GgufValue nested && !nested.IsArray)
            {
                ThrowHelper.ThrowArgument(nameof(elements), "Nested GgufValue elements must be arrays; use a typed array for scalars.");
            }
        }

        if (elementType == GgufValueType.Array && copy.Length > 0 && 1 + copy.Max(e => Level((GgufValue)(object)e!)) > GgufConstants.MaxArrayNesting)
        {
            ThrowHelper.ThrowArgument(nameof(elements), $"Arrays nest deeper than {GgufConstants.MaxArrayNesting} levels.");
        }

        return new(GgufValueType.Array, elementType, copy);
    }

    /// <summary>Wraps an array the reader has just built (no copy, no checks).</summary>
    internal static GgufValue WrapArray(GgufValueType elementType, System.Array elements) => new(GgufValueType.Array, elementType, elements);

    /// <summary>Gets a UINT8 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public byte AsUInt8() => Scalar<byte>(GgufValueType.UInt8);

    /// <summary>Gets an INT8 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public sbyte AsInt8() => Scalar<sbyte>(GgufValueType.Int8);

    /// <summary>Gets a UINT16 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public ushort AsUInt16() => Scalar<ushort>(GgufValueType.UInt16);

    /// <summary>Gets an INT16 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public short AsInt16() => Scalar<short>(GgufValueType.Int16);

    /// <summary>Gets a UINT32 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public uint AsUInt32() => Scalar<uint>(GgufValueType.UInt32);

    /// <summary>Gets an INT32 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public int AsInt32() => Scalar<int>(GgufValueType.Int32);

    /// <summary>Gets a FLOAT32 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public float AsFloat32() => Scalar<float>(GgufValueType.Float32);

    /// <summary>Gets a BOOL value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public bool AsBool() => Scalar<bool>(GgufValueType.Bool);

    /// <summary>Gets a STRING value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public string AsString() => Scalar<string>(GgufValueType.String);

    /// <summary>Gets a UINT64 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public ulong AsUInt64() => Scalar<ulong>(GgufValueType.UInt64);

    /// <summary>Gets an INT64 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public long AsInt64() => Scalar<long>(GgufValueType.Int64);

    /// <summary>Gets a FLOAT64 value.</summary>
    /// <exception cref="InvalidOperationException">The value has another type.</exception>
    public double AsFloat64() => Scalar<double>(GgufValueType.Float64);

    /// <summary>
    /// Gets any unsigned or non-negative signed integer scalar as <see cref="ulong"/>; <see langword="false"/> for
    /// other types and negative values. Useful for keys whose writers disagree on the width (UINT32 vs UINT64).
    /// </summary>
    public bool TryGetUnsigned(out ulong value)
    {
        (bool ok, value) = _value switch
        {
            byte v when !IsArray => (true, v),
            ushort v when !IsArray => (true, v),
            uint v when !IsArray => (true, v),
            ulong v when !IsArray => (true, v),
            sbyte v when !IsArray && v >= 0 => (true, (ulong)v),
            short v when !IsArray && v >= 0 => (true, (ulong)v),
            int v when !IsArray && v >= 0 => (true, (ulong)v),
            long v when !IsArray && v >= 0 => (true, (ulong)v),
            _ => (false, 0UL),
        };
        return ok;
    }

    /// <summary>
    /// Gets the elements of an array whose <see cref="ElementType"/> matches <typeparamref name="T"/> (see
    /// <see cref="FromArray{T}"/> for the mapping; <see cref="GgufValue"/> for arrays of arrays).
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not an array of that element type.</exception>
    public IReadOnlyList<T> AsArray<T>()
    {
        if (!IsArray || ElementType != ElementTypeOf<T>() || _value is not T[] elements)
        {
            throw new InvalidOperationException($"The value is {Describe()}, not an array of {ElementTypeOf<T>()}.");
        }

        return elements;
    }

    /// <summary>The underlying typed array (internal: the writer and equality read it without copying).</summary>
    internal System.Array RawArray => (System.Array)_value;

    /// <summary>The underlying boxed scalar.</summary>
    internal object RawScalar => _value;

    /// <summary>Whether two values have the same type and equal contents (floats compared bit for bit).</summary>
    public bool ContentEquals(GgufValue? other)
    {
        if (other is null || other.Type != Type || other.ElementType != ElementType)
        {
            return false;
        }

        if (!IsArray)
        {
            return ScalarEquals(_value, other._value);
        }

        System.Array a = RawArray, b = other.RawArray;
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            object x = a.GetValue(i)!, y = b.GetValue(i)!;
            if (x is GgufValue nx ? !nx.ContentEquals(y as GgufValue) : !ScalarEquals(x, y))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A short description: the scalar, or the element type and count (and the first elements) of an array.</summary>
    public override string ToString()
    {
        if (!IsArray)
        {
            return FormatScalar(_value);
        }

        System.Array elements = RawArray;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"[{ElementType} x {elements.Length}");
        int shown = Math.Min(elements.Length, 4);
        for (int i = 0; i < shown; i++)
        {
            text.Append(i == 0 ? ": " : ", ").Append(FormatScalar(elements.GetValue(i)!));
        }

        return text.Append(elements.Length > shown ? ", ...]" : "]").ToString();
    }

    internal static int ElementSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    private static GgufValueType ElementTypeOf<T>()
    {
        if (typeof(T) == typeof(byte)) return GgufValueType.UInt8;
        if (typeof(T) == typeof(sbyte)) return GgufValueType.Int8;
        if (typeof(T) == typeof(ushort)) return GgufValueType.UInt16;
        if (typeof(T) == typeof(short)) return GgufValueType.Int16;
        if (typeof(T) == typeof(uint)) return GgufValueType.UInt32;
        if (typeof(T) == typeof(int)) return GgufValueType.Int32;
        if (typeof(T) == typeof(float)) return GgufValueType.Float32;
        if (typeof(T) == typeof(bool)) return GgufValueType.Bool;
        if (typeof(T) == typeof(string)) return GgufValueType.String;
        if (typeof(T) == typeof(ulong)) return GgufValueType.UInt64;
        if (typeof(T) == typeof(long)) return GgufValueType.Int64;
        if (typeof(T) == typeof(double)) return GgufValueType.Float64;
        if (typeof(T) == typeof(GgufValue)) return GgufValueType.Array;
        throw new ArgumentException($"{typeof(T).Name} is not a GGUF element type.", nameof(T));
    }

    /// <summary>1 for an array of scalars or strings, 1 + the deepest element's level for an array of arrays.</summary>
    private static int Level(GgufValue array)
    {
        int deepest = 0;
        if (array.ElementType == GgufValueType.Array)
        {
            foreach (GgufValue element in (GgufValue[])array.RawArray)
            {
                deepest = Math.Max(deepest, Level(element));
            }
        }

        return deepest + 1;
    }

    private T Scalar<T>(GgufValueType type)
    {
        if (Type != type)
        {
            throw new InvalidOperationException($"The value is {Describe()}, not {type}.");
        }

        return (T)_value;
    }

    private string Describe() => IsArray ? $"an array of {ElementType}" : Type.ToString();

    private static bool ScalarEquals(object x, object y) => (x, y) switch
    {
        (float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b),
        (double a, double b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b),
        _ => x.Equals(y),
    };

    private static string FormatScalar(object value) => value switch
    {
        string s => "\"" + (s.Length > 60 ? s[..60] + "..." : s) + "\"",
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
