using System.Collections.Frozen;

namespace Quantization.Formats;

/// <summary>
/// The one list of formats: a line per <see cref="QuantType"/>, in id order. A format with kernels registers the
/// descriptor declared in its folder; the others (ggml types this version reads and writes but does not convert) give
/// their geometry here. <see cref="QuantFormat"/>, the kernel and dot registries, the GGUF file type, the CLI's and the
/// benchmarks' type lists and the tests' coverage are all derived from it (docs/adding-a-format.md).
/// </summary>
internal static class FormatRegistry
{
    /// <summary>Every format, in id order.</summary>
    public static IReadOnlyList<FormatDescriptor> All { get; } = Checked(
    [
        F32Format.Descriptor,
        F16Format.Descriptor,
        Q4_0Format.Descriptor,
        Q4_1Format.Descriptor,
        Q5_0Format.Descriptor,
        Q5_1Format.Descriptor,
        Q8_0Format.Descriptor,
        Q8_1Format.Descriptor,
        Q2_KFormat.Descriptor,
        Q3_KFormat.Descriptor,
        Q4_KFormat.Descriptor,
        Q5_KFormat.Descriptor,
        Q6_KFormat.Descriptor,
        Q8_KFormat.Descriptor,
        IQ2_XXSFormat.Descriptor,
        IQ2_XSFormat.Descriptor,
        IQ3_XXSFormat.Descriptor,
        IQ1_SFormat.Descriptor,
        IQ4_NLFormat.Descriptor,
        IQ3_SFormat.Descriptor,
        IQ2_SFormat.Descriptor,
        IQ4_XSFormat.Descriptor,
        Geometry(QuantType.I8, "i8", 1, 1, FormatFamily.Plain),
        Geometry(QuantType.I16, "i16", 1, 2, FormatFamily.Plain),
        Geometry(QuantType.I32, "i32", 1, 4, FormatFamily.Plain),
        Geometry(QuantType.I64, "i64", 1, 8, FormatFamily.Plain),
        Geometry(QuantType.F64, "f64", 1, 8, FormatFamily.Plain),
        IQ1_MFormat.Descriptor,
        BF16Format.Descriptor,
        TQ1_0Format.Descriptor,
        TQ2_0Format.Descriptor,
        MXFP4Format.Descriptor,
        NVFP4Format.Descriptor,
        Q1_0Format.Descriptor,
        Q2_0Format.Descriptor,
        NF4Format.Descriptor,
        FP4Format.Descriptor,
        I2_SFormat.Descriptor,
        I8_SFormat.Descriptor,
    ]);

    /// <summary>A type this version knows only by its geometry (<c>ggml_blck_size</c> / <c>ggml_type_size</c>).</summary>
    private static FormatDescriptor Geometry(QuantType type, string name, int blockSize, int bytesPerBlock, FormatFamily family) =>
        new(type, name, blockSize, bytesPerBlock, family);

    /// <summary>The descriptor of <paramref name="type"/>, or null for an id that is not a defined type.</summary>
    public static FormatDescriptor? TryGet(QuantType type) => s_byType.GetValueOrDefault(type);

    private static readonly FrozenDictionary<QuantType, FormatDescriptor> s_byType = All.ToFrozenDictionary(d => d.Type);

    // The list is data a test also checks; failing here names the mistake at the first use instead of a wrong lookup later.
    private static FormatDescriptor[] Checked(FormatDescriptor[] all)
    {
        for (int i = 1; i < all.Length; i++)
        {
            if ((int)all[i].Type <= (int)all[i - 1].Type)
            {
                throw new InvalidOperationException($"FormatRegistry: {all[i].Type} is out of id order or registered twice.");
            }
        }

        return all;
    }
}
