using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Conformance;

/// <summary>
/// Dequantization of arbitrary bytes (every bit pattern a file can hold, NaN and infinite scales included)
/// equals ggml's <c>dequantize_row_*</c> on x64, whose scalar C is the reference: bit for bit, except that a NaN
/// only has to be a NaN (see <see cref="AssertBytes.EqualOrBothNaN"/>).
/// </summary>
public sealed class ArbitraryBlockTests
{
    public static TheoryData<QuantType> Types() =>
        [QuantType.F16, QuantType.BF16, QuantType.Q4_0, QuantType.Q4_1, QuantType.Q5_0, QuantType.Q5_1, QuantType.Q8_0, QuantType.Q8_K, QuantType.MXFP4, QuantType.NVFP4];

    [Theory]
    [MemberData(nameof(Types))]
    public void DequantizingRandomBytesEqualsGgml(QuantType type)
    {
        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
        QuantFormat format = QuantFormat.Get(type);
        var rng = new TestRng((ulong)type + 1000);
        int blocks = 4096 / format.BlockSize * 4;
        var bytes = new byte[blocks * format.BytesPerBlock];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)rng.NextUInt64();
        }

        var ours = new float[blocks * format.BlockSize];
        Quantizer.Dequantize(type, bytes, ours);
        float[] theirs = GgmlNative.Dequantize((int)type, bytes);
        if (GgmlNative.IsByteReference)
        {
            AssertBytes.EqualOrBothNaN(theirs, ours, type);
        }
        else
        {
            // The arm64 ggml is built with FMA contraction, so type-1 (x·d + m) results may differ by rounding:
            // there only the value classes are compared.
            for (int i = 0; i < ours.Length; i++)
            {
                Assert.Equal(float.IsNaN(theirs[i]), float.IsNaN(ours[i]));
            }
        }
    }
}
