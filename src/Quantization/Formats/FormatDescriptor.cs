using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>The family a format belongs to: the folder under <c>Formats/</c> that holds it and its shared code.</summary>
internal enum FormatFamily
{
    /// <summary>Plain integer and float64 element types: geometry only, no kernels.</summary>
    Plain,

    /// <summary>F32, F16, BF16 (<c>Formats/Float/</c>).</summary>
    Float,

    /// <summary>ggml's 32-value block formats Q4_0 … Q8_1 (<c>Formats/Legacy/</c>).</summary>
    Legacy,

    /// <summary>ggml's 256-value super-block K-quants Q2_K … Q8_K (<c>Formats/KQuants/</c>).</summary>
    KQuant,

    /// <summary>ggml's non-linear and lattice formats IQ1 … IQ4 (<c>Formats/IQ/</c>).</summary>
    IQ,

    /// <summary>Ternary formats: ggml's TQ1_0 / TQ2_0 and bitnet.cpp's I2_S with its I8_S activations (<c>Formats/Ternary/</c>).</summary>
    Ternary,

    /// <summary>4-bit code-book formats: bitsandbytes' NF4 / FP4, and the E2M1 formats MXFP4 / NVFP4 (<c>Formats/FourBit/</c>).</summary>
    FourBit,
}

/// <summary>What a format stores.</summary>
internal enum FormatRole
{
    /// <summary>Weights (or any tensor a model file holds).</summary>
    Weight,

    /// <summary>Only the quantized activations of integer dot products (Q8_1, Q8_K, I8_S): never a model's weights.</summary>
    Activation,
}

/// <summary>How a format's quantizer uses importance weights (an imatrix row).</summary>
internal enum ImportanceUse
{
    /// <summary>Importance is accepted and ignored: the bytes are the same with or without it (ggml's quantizer ignores it too).</summary>
    Ignored,

    /// <summary>Importance changes the search (ggml's <c>quantize_row_*_impl</c> with a non-null <c>quant_weights</c>).</summary>
    Optional,

    /// <summary>The quantizer refuses to run without importance (ggml's <c>ggml_quantize_requires_imatrix</c>).</summary>
    Required,
}

/// <summary>
/// Everything the library, the CLI, the tests and the benchmarks know about one <see cref="QuantType"/>, in one place:
/// its geometry, family, role, llama.cpp file type, importance rule, and the factories of its kernels and dot kernel.
/// A format with kernels declares its descriptor in its own folder (<c>Formats/&lt;Family&gt;/&lt;Type&gt;/&lt;Type&gt;Format.cs</c>)
/// and registers it with one line in <see cref="FormatRegistry"/>; every per-type list elsewhere is derived from the
/// registry (docs/adding-a-format.md).
/// </summary>
internal sealed class FormatDescriptor(QuantType type, string name, int blockSize, int bytesPerBlock, FormatFamily family)
{
    public QuantType Type { get; } = type;

    /// <summary>ggml's name (<c>ggml_type_name</c>), or the library's for its own formats.</summary>
    public string Name { get; } = name;

    public int BlockSize { get; } = blockSize;

    public int BytesPerBlock { get; } = bytesPerBlock;

    public FormatFamily Family { get; } = family;

    /// <summary>Bytes stored once per tensor after its blocks (see <see cref="QuantFormat.TrailerBytes"/>).</summary>
    public int TrailerBytes { get; init; }

    public FormatRole Role { get; init; } = FormatRole.Weight;

    /// <summary>
    /// llama.cpp's <c>llama_ftype</c> (<c>LLAMA_FTYPE_MOSTLY_*</c>, the GGUF key <c>general.file_type</c>) of a model
    /// whose weights are all of this type, where llama.cpp has one (the "_S" variant for the K-quants); null otherwise.
    /// </summary>
    public int? LlamaFileType { get; init; }

    /// <summary>
    /// For a ggml weight type that llama.cpp has no <see cref="LlamaFileType"/> for, the <c>llama_ftype</c> of the mix
    /// preset whose default type it is (MXFP4: <c>LLAMA_FTYPE_MOSTLY_MXFP4_MOE</c> = 38, which keeps non-expert tensors in
    /// Q8_0). Documentation only: a converted all-MXFP4 model is not that mix, so <c>quant convert</c> writes
    /// <c>LLAMA_FTYPE_GUESSED</c> for it.
    /// </summary>
    public int? LlamaMixFileType { get; init; }

    public ImportanceUse Importance { get; init; } = ImportanceUse.Ignored;

    /// <summary>Creates the quantize / dequantize kernels; null for a type this version stores but cannot convert.</summary>
    public Func<KernelEntry>? Kernels { get; init; }

    /// <summary>Creates the fused dot kernel (which also names the activation format); null where products take the float path.</summary>
    public Func<DotEntry>? Dot { get; init; }

    /// <summary>A ggml type id (ids from 1000 up are the library's own formats).</summary>
    public bool IsGgmlType => (int)Type < 1000;
}

/// <summary>A format's descriptor, declared in the format's folder.</summary>
internal interface IFormat
{
    static abstract FormatDescriptor Descriptor { get; }
}
