using System.Collections.Frozen;

namespace Quantization.Kernels;

internal delegate void QuantizeRowFn(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance);

internal delegate void DequantizeFn(ReadOnlySpan<byte> source, Span<float> destination);

/// <summary>The kernels registered for one type.</summary>
internal sealed class KernelEntry(QuantType type, QuantizeRowFn? quantize, QuantizeRowFn? quantizeReference,
                                  DequantizeFn? dequantize, DequantizeFn? dequantizeReference)
{
    public QuantType Type { get; } = type;
    public QuantFormat Format { get; } = QuantFormat.Get(type);
    public QuantizeRowFn? Quantize { get; } = quantize;
    public QuantizeRowFn? QuantizeReference { get; } = quantizeReference;
    public DequantizeFn? Dequantize { get; } = dequantize;
    public DequantizeFn? DequantizeReference { get; } = dequantizeReference;
    public bool CanQuantize => Quantize is not null;
    public bool CanDequantize => Dequantize is not null;

    public static KernelEntry Create<TKernel>() where TKernel : IQuantKernel =>
        new(TKernel.Type, TKernel.QuantizeRow, TKernel.QuantizeRowReference, TKernel.Dequantize, TKernel.DequantizeReference);
}

/// <summary>Which kernels exist for which type. A new format is one folder under Formats/ and one line here.</summary>
internal static class KernelRegistry
{
    private static readonly FrozenDictionary<QuantType, KernelEntry> s_entries = Build();

    private static FrozenDictionary<QuantType, KernelEntry> Build()
    {
        var entries = new Dictionary<QuantType, KernelEntry>();
        void Add(KernelEntry entry) => entries.Add(entry.Type, entry);

        Add(KernelEntry.Create<Formats.F32Kernel>());
        Add(KernelEntry.Create<Formats.F16Kernel>());
        Add(KernelEntry.Create<Formats.BF16Kernel>());
        Add(KernelEntry.Create<Formats.Q4_0Kernel>());
        Add(KernelEntry.Create<Formats.Q4_1Kernel>());
        Add(KernelEntry.Create<Formats.Q5_0Kernel>());
        Add(KernelEntry.Create<Formats.Q5_1Kernel>());
        Add(KernelEntry.Create<Formats.Q8_0Kernel>());
        Add(KernelEntry.Create<Formats.Q8_1Kernel>());
        Add(KernelEntry.Create<Formats.Q4_KKernel>());
        Add(KernelEntry.Create<Formats.Q5_KKernel>());
        Add(KernelEntry.Create<Formats.Q8_KKernel>());
        Add(KernelEntry.Create<Formats.Q2_KKernel>());
        Add(KernelEntry.Create<Formats.Q3_KKernel>());
        Add(KernelEntry.Create<Formats.Q6_KKernel>());
        Add(KernelEntry.Create<Formats.IQ4_NLKernel>());
        Add(KernelEntry.Create<Formats.IQ4_XSKernel>());
        Add(KernelEntry.Create<Formats.NF4Kernel>());
        Add(KernelEntry.Create<Formats.FP4Kernel>());
        return entries.ToFrozenDictionary();
    }

    public static KernelEntry? TryGet(QuantType type) => s_entries.GetValueOrDefault(type);

    /// <summary>Every registered type, in id order.</summary>
    public static IEnumerable<KernelEntry> All => s_entries.Values.OrderBy(e => (int)e.Type);
}
