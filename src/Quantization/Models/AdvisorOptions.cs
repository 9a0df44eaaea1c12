namespace Quantization.Models;

/// <summary>The machine a model must fit: memory, the share kept free, and the context the key/value cache must hold.</summary>
public sealed record AdvisorOptions
{
    /// <summary>Creates options for <paramref name="memoryBytes"/> of memory, the other settings at their defaults.</summary>
    /// <param name="memoryBytes">The memory the model may use (RAM or VRAM), in bytes.</param>
    public AdvisorOptions(long memoryBytes) => MemoryBytes = memoryBytes;

    /// <summary>The memory the model may use (RAM or VRAM), in bytes.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>
    /// The fraction of <see cref="MemoryBytes"/> kept for activations, compute buffers and the rest of the system;
    /// weights and key/value cache must fit in the remainder. 0.2 by default.
    /// </summary>
    public double Headroom { get; init; } = 0.2;

    /// <summary>Tokens of context the key/value cache holds. 8192 by default.</summary>
    public int ContextLength { get; init; } = 8192;

    /// <summary>The key/value cache type (<see cref="KvCacheBytes.IsSupported"/>). F16 by default, as llama.cpp's.</summary>
    public QuantType KvCacheType { get; init; } = QuantType.F16;

    /// <summary>The bytes left for weights and key/value cache: <see cref="MemoryBytes"/> × (1 − <see cref="Headroom"/>).</summary>
    public double UsableBytes => MemoryBytes * (1 - Headroom);

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">The memory or context is not positive, the headroom is outside [0, 1), or the cache type is no cache type.</exception>
    public void Validate()
    {
        if (MemoryBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MemoryBytes), MemoryBytes, "The memory must be positive.");
        }

        if (!(Headroom >= 0 && Headroom < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Headroom), Headroom, "The headroom must be in [0, 1).");
        }

        if (ContextLength <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, "The context length must be positive.");
        }

        if (!KvCacheBytes.IsSupported(KvCacheType))
        {
            throw new ArgumentException($"{KvCacheType} is no key/value cache type.", nameof(KvCacheType));
        }
    }
}
