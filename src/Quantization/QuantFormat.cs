using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Quantization;

/// <summary>
/// Describes the storage geometry of a <see cref="QuantType"/>: how many values a block holds and how many
/// bytes it takes. The geometry equals ggml's <c>ggml_blck_size</c> / <c>ggml_type_size</c>.
/// </summary>
public sealed class QuantFormat
{
    private static readonly FrozenDictionary<QuantType, QuantFormat> s_formats =
        Formats.FormatRegistry.All.Select(d => new QuantFormat(d.Type, d.Name, d.BlockSize, d.BytesPerBlock, d.TrailerBytes)).ToFrozenDictionary(f => f.Type);

    private QuantFormat(QuantType type, string name, int blockSize, int bytesPerBlock, int trailerBytes = 0)
    {
        Type = type;
        Name = name;
        BlockSize = blockSize;
        BytesPerBlock = bytesPerBlock;
        TrailerBytes = trailerBytes;
    }

    /// <summary>The type this descriptor describes.</summary>
    public QuantType Type { get; }

    /// <summary>ggml's name for the type (<c>ggml_type_name</c>), e.g. <c>q4_0</c> or <c>q4_K</c>.</summary>
    public string Name { get; }

    /// <summary>Number of values in one block (1 for plain element types).</summary>
    public int BlockSize { get; }

    /// <summary>Number of bytes one block occupies.</summary>
    public int BytesPerBlock { get; }

    /// <summary>
    /// Bytes stored once per tensor after its last block: 0 for every block format; 32 for <see cref="QuantType.I2_S"/>
    /// (one float32 scale of the whole tensor, padded to 32 bytes as bitnet.cpp writes it) and for
    /// <see cref="QuantType.I8_S"/> (the float32 scale and the int32 code sum, zero-padded). A tensor of n values takes
    /// <c>n / BlockSize · BytesPerBlock + TrailerBytes</c> bytes (<see cref="Quantizer.GetByteCount"/>).
    /// </summary>
    public int TrailerBytes { get; }

    /// <summary>Storage cost in bits per value, block scales included and a per-tensor trailer not (e.g. 4.5 for <see cref="QuantType.Q4_0"/>).</summary>
    public double BitsPerWeight => 8.0 * BytesPerBlock / BlockSize;

    /// <summary>
    /// <see langword="true"/> when the id is a ggml type id (a GGUF file can hold it); <see langword="false"/> for the
    /// formats this library adds (NF4, FP4, I2_S, I8_S), whose ids start at 1000.
    /// </summary>
    public bool IsGgmlType => (int)Type < 1000;

    /// <summary>Whether <see cref="Quantizer.Quantize"/> accepts this type in this version of the library.</summary>
    public bool CanQuantize => Kernels.KernelRegistry.TryGet(Type) is { CanQuantize: true };

    /// <summary>Whether <see cref="Quantizer.Dequantize"/> accepts this type in this version of the library.</summary>
    public bool CanDequantize => Kernels.KernelRegistry.TryGet(Type) is { CanDequantize: true };

    /// <summary>Every type ggml currently defines, in id order.</summary>
    public static IReadOnlyList<QuantFormat> All { get; } = [.. s_formats.Values.OrderBy(f => (int)f.Type)];

    /// <summary>Gets the descriptor of <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not a defined type (for example a removed ggml id).</exception>
    public static QuantFormat Get(QuantType type)
    {
        if (!s_formats.TryGetValue(type, out QuantFormat? format))
        {
            ThrowHelper.ThrowUnknownType(type);
        }

        return format;
    }

    /// <summary>Gets the descriptor of <paramref name="type"/>, or <see langword="false"/> for an undefined id.</summary>
    public static bool TryGet(QuantType type, [NotNullWhen(true)] out QuantFormat? format) => s_formats.TryGetValue(type, out format);

    /// <summary>Gets the descriptor whose <see cref="Name"/> equals <paramref name="name"/> (case-insensitive).</summary>
    public static bool TryParse(string name, [NotNullWhen(true)] out QuantFormat? format)
    {
        ArgumentNullException.ThrowIfNull(name);
        format = All.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)
                                         || string.Equals(f.Type.ToString(), name, StringComparison.OrdinalIgnoreCase));
        return format is not null;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
