using System.Runtime.InteropServices;
using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// FP32 → FP16 as ggml rounds it (Maratyszcza's bit trick, docs/formats.md#fp16-and-bf16), checked for both of our conversions:
/// the scalar one the block scales use and TensorPrimitives' vectorised one behind <see cref="QuantType.F16"/>.
/// The inputs cover every FP16 value, its neighbours, every rounding midpoint and its neighbours, plus random bit patterns.
/// </summary>
public sealed class Fp16Tests
{
    /// <summary>An independent port of ggml's <c>ggml_compute_fp32_to_fp16</c>.</summary>
    private static ushort GgmlFp32ToFp16(float f)
    {
        float scaleToInf = BitConverter.UInt32BitsToSingle(0x77800000); // 2^112
        float scaleToZero = BitConverter.UInt32BitsToSingle(0x08800000); // 2^-110
        float b = MathF.Abs(f) * scaleToInf * scaleToZero;
        uint w = BitConverter.SingleToUInt32Bits(f);
        uint shl1W = w + w;
        uint sign = w & 0x80000000u;
        uint bias = shl1W & 0xFF000000u;
        if (bias < 0x71000000u)
        {
            bias = 0x71000000u;
        }

        b = BitConverter.UInt32BitsToSingle((bias >> 1) + 0x07800000u) + b;
        uint bits = BitConverter.SingleToUInt32Bits(b);
        uint expBits = (bits >> 13) & 0x00007C00u;
        uint mantissaBits = bits & 0x00000FFFu;
        uint nonsign = expBits + mantissaBits;
        return (ushort)((sign >> 16) | (shl1W > 0xFF000000u ? 0x7E00u : nonsign));
    }

    private static float[] Inputs()
    {
        var list = new List<float>(1 << 20);
        for (int h = 0; h < 0x10000; h++)
        {
            float v = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            if (!float.IsFinite(v))
            {
                continue;
            }

            uint u = BitConverter.SingleToUInt32Bits(v);
            // The value, its float neighbours, and the midpoint to the next FP16 value with its neighbours.
            foreach (uint d in new uint[] { 0, 1, 0xFFFFFFFF, 0x1000, 0xFFF, 0x1001, 0x2000 })
            {
                float c = BitConverter.UInt32BitsToSingle(u + d);
                if (float.IsFinite(c))
                {
                    list.Add(c);
                }
            }
        }

        var rng = new TestRng(42);
        for (int i = 0; i < 200_000; i++)
        {
            float c = BitConverter.UInt32BitsToSingle((uint)rng.NextUInt64());
            if (float.IsFinite(c))
            {
                list.Add(c);
            }
        }

        return [.. list];
    }

    private static readonly float[] s_inputs = Inputs();

    [Fact]
    public void ScalarConversionMatchesGgmlBitTrick()
    {
        foreach (float f in s_inputs)
        {
            ushort expected = GgmlFp32ToFp16(f);
            ushort actual = Fp16.FromSingle(f);
            if (expected != actual)
            {
                Assert.Fail($"{f:R} (0x{BitConverter.SingleToUInt32Bits(f):x8}): expected 0x{expected:x4}, got 0x{actual:x4}");
            }
        }
    }

    [Fact]
    public void RowConversionMatchesGgmlBitTrickAndNativeGgml()
    {
        var ours = new byte[s_inputs.Length * 2];
        Quantizer.Quantize(QuantType.F16, s_inputs, ours, s_inputs.Length);
        ReadOnlySpan<ushort> h = MemoryMarshal.Cast<byte, ushort>(ours);
        for (int i = 0; i < s_inputs.Length; i++)
        {
            if (h[i] != GgmlFp32ToFp16(s_inputs[i]))
            {
                Assert.Fail($"{s_inputs[i]:R}: expected 0x{GgmlFp32ToFp16(s_inputs[i]):x4}, got 0x{h[i]:x4}");
            }
        }

        if (GgmlNative.IsByteReference)
        {
            AssertBytes.Equal(GgmlNative.QuantizeChunk((int)QuantType.F16, s_inputs, s_inputs.Length), ours, QuantType.F16);
        }
    }

    [Fact]
    public void EveryHalfWidensExactly()
    {
        var bytes = new byte[0x20000];
        for (int i = 0; i < 0x10000; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (ushort)i);
        }

        var ours = new float[0x10000];
        Quantizer.Dequantize(QuantType.F16, bytes, ours);
        for (int i = 0; i < 0x10000; i++)
        {
            float expected = Fp16.ToSingle((ushort)i);
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(ours[i]) || (float.IsNaN(expected) && float.IsNaN(ours[i])), $"0x{i:x4}");
        }

        if (GgmlNative.IsAvailable)
        {
            float[] theirs = GgmlNative.Dequantize((int)QuantType.F16, bytes);
            for (int i = 0; i < 0x10000; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(theirs[i]) == BitConverter.SingleToInt32Bits(ours[i]) || (float.IsNaN(theirs[i]) && float.IsNaN(ours[i])), $"0x{i:x4}");
            }
        }
    }
}
