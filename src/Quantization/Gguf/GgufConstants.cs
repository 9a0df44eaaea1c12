namespace Quantization.Gguf;

/// <summary>Fixed values of the GGUF v3 format and the metadata keys this library reads or writes itself.</summary>
public static class GgufConstants
{
    /// <summary>The magic at offset 0: the bytes "GGUF" read as a little-endian 32-bit integer.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>The format version this library reads and writes.</summary>
    public const uint Version = 3;

    /// <summary>The data alignment when <see cref="AlignmentKey"/> is absent (<c>GGUF_DEFAULT_ALIGNMENT</c>).</summary>
    public const int DefaultAlignment = 32;

    /// <summary>Tensor names must be shorter than this many bytes (<c>GGML_MAX_NAME</c>).</summary>
    public const int MaxTensorNameBytes = 64;

    /// <summary>The most dimensions a tensor can have (<c>GGML_MAX_DIMS</c>).</summary>
    public const int MaxDimensions = 4;

    /// <summary>The most levels of arrays inside arrays this library reads or writes.</summary>
    public const int MaxArrayNesting = 8;

    /// <summary>ggml's current quantization version (<c>GGML_QNT_VERSION</c>).</summary>
    public const uint QuantizationVersion = 2;

    /// <summary>Key of the data alignment (UINT32, a power of two).</summary>
    public const string AlignmentKey = "general.alignment";

    /// <summary>Key of the quantization version (UINT32).</summary>
    public const string QuantizationVersionKey = "general.quantization_version";

    /// <summary>Key of the llama.cpp file type (<c>llama_ftype</c>, UINT32).</summary>
    public const string FileTypeKey = "general.file_type";

    /// <summary>Key of the model architecture (STRING).</summary>
    public const string ArchitectureKey = "general.architecture";

    /// <summary>Key of the model name (STRING).</summary>
    public const string NameKey = "general.name";
}
