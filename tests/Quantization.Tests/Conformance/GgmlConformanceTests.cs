using System.Runtime.InteropServices;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Conformance;

/// <summary>
/// Byte-for-byte agreement with native ggml. On x64 every case is compared with ggml live, and the committed
/// golden hashes are checked against ggml too; on arm64 (whose ggml build contracts to FMA and so is not the byte
/// reference) every case is compared with the golden hashes the x64 oracle produced.
/// </summary>
public sealed class GgmlConformanceTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (ConformanceCase c in ConformanceCase.All())
        {
            data.Add(c.Key);
        }

        return data;
    }

    private static ConformanceCase Parse(string key)
    {
        string[] p = key.Split('\t');
        return new ConformanceCase(Enum.Parse<QuantType>(p[0]), p[1], int.Parse(p[2]), int.Parse(p[3]), p[4]);
    }

    /// <summary>Our quantizer's bytes for a case.</summary>
    internal static byte[] Ours(ConformanceCase c, float[] source, float[] importance)
    {
        var dst = new byte[Quantizer.GetByteCount(c.Type, source.Length)];
        Quantizer.Quantize(c.Type, source, dst, c.RowLength, importance);
        return dst;
    }

    /// <summary>ggml's bytes for a case: ggml_quantize_chunk, or the activation quantizers' _ref functions.</summary>
    internal static byte[] Theirs(ConformanceCase c, float[] source, float[] importance) => c.Type switch
    {
        QuantType.Q8_1 => GgmlNative.QuantizeRowRef("q8_1", (int)c.Type, source),
        QuantType.Q8_K => GgmlNative.QuantizeRowRef("q8_K", (int)c.Type, source),
        _ => GgmlNative.QuantizeChunk((int)c.Type, source, c.RowLength, importance),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizedBytesEqualGgml(string key)
    {
        ConformanceCase c = Parse(key);
        float[] source = c.Source();
        float[] importance = c.ImportanceWeights();
        byte[] ours = Ours(c, source, importance);

        if (GgmlNative.IsByteReference)
        {
            Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
            byte[] theirs = Theirs(c, source, importance);
            AssertBytes.Equal(theirs, ours, c.Type);
            Assert.Equal(GoldenHashes.Format(Fnv.Hash(theirs)), GoldenHashes.Get(c.Key).Quantized);
        }
        else
        {
            Assert.Equal(GoldenHashes.Get(c.Key).Quantized, GoldenHashes.Format(Fnv.Hash(ours)));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DequantizedFloatsEqualGgml(string key)
    {
        ConformanceCase c = Parse(key);
        byte[] bytes = Ours(c, c.Source(), c.ImportanceWeights());
        var ours = new float[c.Rows * c.RowLength];
        Quantizer.Dequantize(c.Type, bytes, ours);

        if (c.Type == QuantType.Q8_1)
        {
            // ggml has no Q8_1 dequantizer: check w = d·q directly.
            for (int i = 0; i < ours.Length; i++)
            {
                int block = i / 32;
                float d = (float)BitConverter.ToHalf(bytes, block * 36);
                Assert.Equal(BitConverter.SingleToInt32Bits((sbyte)bytes[block * 36 + 4 + i % 32] * d), BitConverter.SingleToInt32Bits(ours[i]));
            }

            return;
        }

        if (GgmlNative.IsByteReference || GgmlNative.IsAvailable)
        {
            Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
            float[] theirs = GgmlNative.Dequantize((int)c.Type, bytes);
            AssertBytes.Equal(theirs, ours, c.Type);
        }

        // The golden hashes are of x86 floats. A NaN that an operation creates (0·∞ or ∞−∞ when a block's fp16 scale is
        // infinite) is the "default NaN" of the hardware: 0xFFC00000 on x86, 0x7FC00000 on arm64, and the arm64 ggml
        // dequantizers produce 0x7FC00000 too (compared bit for bit just above). So on arm64 that one pattern is hashed
        // as x86 writes it; every other bit pattern, other NaNs included, is hashed as is.
        float[] hashed = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? WithX86DefaultNaN(ours) : ours;
        Assert.Equal(GoldenHashes.Get(c.Key).Dequantized, GoldenHashes.Format(Fnv.Hash(hashed)));
    }

    private const int Arm64DefaultNaN = 0x7FC00000;
    private const int X86DefaultNaN = unchecked((int)0xFFC00000);

    private static float[] WithX86DefaultNaN(float[] values)
    {
        var copy = (float[])values.Clone();
        Span<int> bits = MemoryMarshal.Cast<float, int>(copy.AsSpan());
        for (int i = 0; i < bits.Length; i++)
        {
            if (bits[i] == Arm64DefaultNaN)
            {
                bits[i] = X86DefaultNaN;
            }
        }

        return copy;
    }
}
