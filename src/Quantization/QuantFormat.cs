using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Quantization;

/// <summary>
/// Describes the storage geometry of a <see cref="QuantType"/>: how many values a block holds and how many
/// bytes it takes. The geometry equals ggml's <c>ggml_blck_size</c> / <c>ggml_type_size</c>.
/// </summary>
public sealed class QuantFormat
{
    private static readonly FrozenDictionary<QuantType, QuantFormat> s_formats = new QuantFormat[]
    {
        new(QuantType.F32, "f32", 1, 4),
        new(QuantType.F16, "f16", 1, 2),
        new(QuantType.Q4_0, "q4_0", 32, 18),
        new(QuantType.Q4_1, "q4_1", 32, 20),
        new(QuantType.Q5_0, "q5_0", 32, 22),
        new(QuantType.Q5_1, "q5_1", 32, 24),
        new(QuantType.Q8_0, "q8_0", 32, 34),
        new(QuantType.Q8_1, "q8_1", 32, 36),
        new(QuantType.Q2_K, "q2_K", 256, 84),
        new(QuantType.Q3_K, "q3_K", 256, 110),
        new(QuantType.Q4_K, "q4_K", 256, 144),
        new(QuantType.Q5_K, "q5_K", 256, 176),
        new(QuantType.Q6_K, "q6_K", 256, 210),
        new(QuantType.Q8_K, "q8_K", 256, 292),
        new(QuantType.IQ2_XXS, "iq2_xxs", 256, 66),
        new(QuantType.IQ2_XS, "iq2_xs", 256, 74),
        new(QuantType.IQ3_XXS, "iq3_xxs", 256, 98),
        new(QuantType.IQ1_S, "iq1_s", 256, 50),
        new(QuantType.IQ4_NL, "iq4_nl", 32, 18),
        new(QuantType.IQ3_S, "iq3_s", 256, 110),
        new(QuantType.IQ2_S, "iq2_s", 256, 82),
        new(QuantType.IQ4_XS, "iq4_xs", 256, 136),
        new(QuantType.I8, "i8", 1, 1),
        new(QuantType.I16, "i16", 1, 2),
        new(QuantType.I32, "i32", 1, 4),
        new(QuantType.I64, "i64", 1, 8),
        new(QuantType.F64, "f64", 1, 8),
        new(QuantType.IQ1_M, "iq1_m", 256, 56),
        new(QuantType.BF16, "bf16", 1, 2),
        new(QuantType.TQ1_0, "tq1_0", 256, 54),
        new(QuantType.TQ2_0, "tq2_0", 256, 66),
        new(QuantType.MXFP4, "mxfp4", 32, 17),
        new(QuantType.NVFP4, "nvfp4", 64, 36),
        new(QuantType.Q1_0, "q1_0", 128, 18),
        new(QuantType.Q2_0, "q2_0", 64, 18),
        new(QuantType.NF4, "nf4", 64, 36),
        new(QuantType.FP4, "fp4", 64, 36),
        new(QuantType.I2_S, "i2_s", 128, 32, trailerBytes: 32),
        new(QuantType.I8_S, "i8_s", 1, 1, trailerBytes: 32),
    }.ToFrozenDictionary(f => f.Type);

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
