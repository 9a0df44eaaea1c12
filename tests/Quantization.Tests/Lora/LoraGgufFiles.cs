using System.Runtime.InteropServices;
using Quantization.Gguf;

namespace Quantization.Tests.Lora;

/// <summary>Builds small GGUF base models and llama.cpp-style LoRA adapter files in memory.</summary>
internal static class LoraGgufFiles
{
    public sealed record Tensor(string Name, QuantType Type, long[] Dimensions, byte[] Data);

    public static byte[] F32Bytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>IEEE binary16 by .NET's own conversion (round to nearest even), not the library's.</summary>
    public static byte[] F16Bytes(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((Half)values[i]));
        }

        return bytes;
    }

    public static byte[] Write(IEnumerable<KeyValuePair<string, GgufValue>> metadata, IEnumerable<Tensor> tensors)
    {
        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            foreach (KeyValuePair<string, GgufValue> kv in metadata)
            {
                writer.SetMetadata(kv.Key, kv.Value);
            }

            Tensor[] list = [.. tensors];
            foreach (Tensor t in list)
            {
                writer.AddTensor(t.Name, t.Type, t.Dimensions);
            }

            foreach (Tensor t in list)
            {
                writer.WriteTensorData(t.Data);
            }

            writer.Finish();
        }

        return stream.ToArray();
    }

    public static KeyValuePair<string, GgufValue>[] AdapterMetadata(float? alpha, string architecture = "llama") =>
    [
        new("general.architecture", GgufValue.FromString(architecture)),
        new("general.type", GgufValue.FromString("adapter")),
        new("adapter.type", GgufValue.FromString("lora")),
        .. alpha is { } a ? [new KeyValuePair<string, GgufValue>("adapter.lora.alpha", GgufValue.FromFloat32(a))] : Array.Empty<KeyValuePair<string, GgufValue>>(),
    ];

    /// <summary>The two tensors of one adapted weight: lora_a is ggml [in, r] (A, r rows of in), lora_b [r, out] (B, out rows of r).</summary>
    public static Tensor[] Pair(string baseName, LoraReference.Factors f, bool f16 = false) =>
    [
        new(baseName + ".lora_a", f16 ? QuantType.F16 : QuantType.F32, [f.Inputs, f.Rank], f16 ? F16Bytes(f.A) : F32Bytes(f.A)),
        new(baseName + ".lora_b", f16 ? QuantType.F16 : QuantType.F32, [f.Rank, f.Outputs], f16 ? F16Bytes(f.B) : F32Bytes(f.B)),
    ];
}
