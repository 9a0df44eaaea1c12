using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Quantization.Gguf;

namespace Quantization.Lora;

/// <summary>
/// The adapters of one adapter file, keyed by the name of the base weight each one updates: the GGUF tensor name
/// (<c>blk.0.attn_q.weight</c>) for a llama.cpp adapter, the checkpoint weight name
/// (<c>model.layers.0.self_attn.q_proj.weight</c>) for a PEFT one.
/// </summary>
/// <remarks>The adapters hold float32 copies of A and B, so the file they were read from may be closed.</remarks>
public sealed class LoraAdapterSet : IReadOnlyDictionary<string, LoraAdapter>
{
    private readonly Dictionary<string, LoraAdapter> _adapters;
    private readonly List<string> _order;

    /// <summary>A set of the given adapters, in the given order.</summary>
    /// <param name="adapters">Base weight name → adapter; names must be unique.</param>
    /// <param name="architecture">The model architecture the adapter was made for, if known.</param>
    /// <exception cref="ArgumentException">A name appears twice.</exception>
    public LoraAdapterSet(IEnumerable<KeyValuePair<string, LoraAdapter>> adapters, string? architecture = null)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        _adapters = new Dictionary<string, LoraAdapter>(StringComparer.Ordinal);
        _order = [];
        foreach (KeyValuePair<string, LoraAdapter> pair in adapters)
        {
            ArgumentNullException.ThrowIfNull(pair.Key, nameof(adapters));
            ArgumentNullException.ThrowIfNull(pair.Value, nameof(adapters));
            if (!_adapters.TryAdd(pair.Key, pair.Value))
            {
                ThrowHelper.ThrowArgument(nameof(adapters), $"Two adapters update '{pair.Key}'.");
            }

            _order.Add(pair.Key);
        }

        Architecture = architecture;
    }

    /// <summary>The model architecture the adapter was made for (<c>general.architecture</c> of a GGUF adapter), or <see langword="null"/>.</summary>
    public string? Architecture { get; }

    /// <summary>Number of adapted weights.</summary>
    public int Count => _adapters.Count;

    /// <summary>The adapted base weight names, in file order.</summary>
    public IEnumerable<string> Keys => _order;

    /// <summary>The adapters, in file order.</summary>
    public IEnumerable<LoraAdapter> Values => _order.Select(n => _adapters[n]);

    /// <summary>The adapter of the base weight named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No adapter updates that weight.</exception>
    public LoraAdapter this[string name] => _adapters[name];

    /// <summary>Reads a llama.cpp GGUF LoRA adapter (<c>general.type = adapter</c>, <c>adapter.type = lora</c>).</summary>
    /// <param name="path">The adapter file.</param>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF LoRA adapter.</exception>
    /// <exception cref="NotSupportedException">A tensor's type cannot be converted to float32 by this version.</exception>
    public static LoraAdapterSet LoadGguf(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        return GgufLoraReader.Read(file);
    }

    /// <summary>Reads the adapters of an open llama.cpp GGUF LoRA adapter file (see <see cref="LoadGguf"/>).</summary>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF LoRA adapter.</exception>
    /// <exception cref="NotSupportedException">A tensor's type cannot be converted to float32 by this version.</exception>
    public static LoraAdapterSet FromGguf(GgufFile adapterFile)
    {
        ArgumentNullException.ThrowIfNull(adapterFile);
        return GgufLoraReader.Read(adapterFile);
    }

    /// <summary>
    /// Reads a PEFT adapter: <c>base_model.model.&lt;module&gt;.lora_A.weight</c> (r × in) and <c>.lora_B.weight</c>
    /// (out × r) pairs from <paramref name="tensors"/>, scaled as <paramref name="config"/> says for each module.
    /// </summary>
    /// <param name="config">The adapter's <c>adapter_config.json</c>.</param>
    /// <param name="tensors">The adapter's tensors (<c>adapter_model.safetensors</c> or a state dictionary).</param>
    /// <exception cref="InvalidDataException">A pair is incomplete, a shape is wrong, or a rank disagrees with the configuration.</exception>
    public static LoraAdapterSet FromPeft(PeftLoraConfig config, ILoraTensorSource tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        return PeftLoraReader.Read(config, tensors);
    }

    /// <summary>Whether an adapter updates the base weight named <paramref name="name"/>.</summary>
    public bool ContainsKey(string name) => _adapters.ContainsKey(name);

    /// <summary>Gets the adapter of the base weight named <paramref name="name"/>.</summary>
    public bool TryGetValue(string name, [MaybeNullWhen(false)] out LoraAdapter value) => _adapters.TryGetValue(name, out value);

    /// <summary>
    /// <paramref name="baseMatrix"/> with the adapter of <paramref name="name"/> applied at <paramref name="scale"/>,
    /// or <paramref name="baseMatrix"/> itself when no adapter updates that weight.
    /// </summary>
    /// <exception cref="ArgumentException">The adapter's shape does not match <paramref name="baseMatrix"/>.</exception>
    public IWeightMatrix Apply(string name, IWeightMatrix baseMatrix, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(baseMatrix);
        if (!_adapters.TryGetValue(name, out LoraAdapter? adapter))
        {
            return baseMatrix;
        }

        var matrix = new LoraMatrix(baseMatrix, adapter);
        matrix.SetScale(0, scale);
        return matrix;
    }

    /// <summary>The adapters in file order.</summary>
    public IEnumerator<KeyValuePair<string, LoraAdapter>> GetEnumerator()
    {
        foreach (string name in _order)
        {
            yield return new(name, _adapters[name]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
