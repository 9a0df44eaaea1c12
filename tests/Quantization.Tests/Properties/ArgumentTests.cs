using FsCheck;
using FsCheck.Fluent;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Properties;

/// <summary>Bad arguments fail with the parameter's name, before anything is written; every length near a block boundary is handled.</summary>
public sealed class ArgumentTests
{
    private const byte Sentinel = 0xA5;

    private static byte[] Filled(long n) => Enumerable.Repeat(Sentinel, (int)n).ToArray();

    private static void AssertUntouched(byte[] q) =>
        Assert.True(q.AsSpan().IndexOfAnyExcept(Sentinel) < 0, $"byte {q.AsSpan().IndexOfAnyExcept(Sentinel)} was written");

    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q5_1)]
    [InlineData(QuantType.Q8_K)]
    [InlineData(QuantType.F16)]
    public void LengthsAroundBlockBoundaries(QuantType type)
    {
        int block = QuantFormat.Get(type).BlockSize;
        int bytes = QuantFormat.Get(type).BytesPerBlock;
        for (int n = 0; n <= 3 * block + 1; n++)
        {
            float[] x = TestData.Gaussian((ulong)n, n, 1);
            if (n % block == 0)
            {
                Assert.Equal(n / block * bytes, Quantizer.GetByteCount(type, n));
                byte[] q = Filled(Quantizer.GetByteCount(type, n));
                if (n > 0)
                {
                    Quantizer.Quantize(type, x, q, n);
                    var y = new float[n];
                    Quantizer.Dequantize(type, q, y);
                }
                else
                {
                    // No rows: nothing to do, for any valid row length.
                    Quantizer.Quantize(type, x, q, block);
                }
            }
            else
            {
                Assert.Equal("elementCount", Assert.Throws<ArgumentException>(() => Quantizer.GetByteCount(type, n)).ParamName);
                byte[] q = Filled(n * bytes + bytes);
                Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(type, x, q, n)).ParamName);
                AssertUntouched(q);
            }
        }
    }

    [Fact]
    public void WrongLengthsNameTheParameterAndWriteNothing()
    {
        float[] x = TestData.Gaussian(1, 128, 1);
        byte[] q = Filled(Quantizer.GetByteCount(QuantType.Q4_0, 128));

        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 0)).ParamName);
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 48)).ParamName);
        Assert.Equal("rowLength", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, -32)).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 96)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q.AsSpan(1), 64)).ParamName);
        Assert.Equal("importance", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 64, new float[32])).ParamName);
        AssertUntouched(q);

        var y = new float[128];
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(QuantType.Q4_0, q.AsSpan(1), y)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(QuantType.Q4_0, q, y.AsSpan(1))).ParamName);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LargerDestinationsAreAccepted()
    {
        float[] x = TestData.Gaussian(2, 64, 1);
        byte[] q = Filled(Quantizer.GetByteCount(QuantType.Q8_0, 64) + 5);
        Quantizer.Quantize(QuantType.Q8_0, x, q, 64);
        AssertUntouched(q[^5..]);
        var y = new float[70];
        Quantizer.Dequantize(QuantType.Q8_0, q.AsSpan(0, 68), y);
        Assert.All(y[64..], v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteInputIsRejectedWithItsIndex(float bad)
    {
        Prop.ForAll(Gen.Choose(0, 255).ToArbitrary(), index =>
        {
            float[] x = TestData.Gaussian((ulong)index, 256, 1);
            x[index] = bad;
            byte[] q = Filled(Quantizer.GetByteCount(QuantType.Q4_1, 256));
            var ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_1, x, q, 128));
            Assert.Equal("source", ex.ParamName);
            Assert.Contains($"source[{index}]", ex.Message);
            AssertUntouched(q);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void BadImportanceIsRejected()
    {
        float[] x = TestData.Gaussian(3, 64, 1);
        byte[] q = Filled(Quantizer.GetByteCount(QuantType.Q4_0, 64));
        float[] w = Enumerable.Repeat(1f, 64).ToArray();
        w[10] = float.NaN;
        Assert.Contains("importance[10]", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 64, w)).Message);
        w[10] = -1f;
        Assert.Contains("importance[10]", Assert.Throws<ArgumentException>(() => Quantizer.Quantize(QuantType.Q4_0, x, q, 64, w)).Message);
        AssertUntouched(q);
    }

    [Theory]
    [InlineData(QuantType.I32)]
    [InlineData(QuantType.I64)]
    public void UnimplementedTypesThrowNotSupportedNamingTheType(QuantType type)
    {
        var ex = Assert.Throws<NotSupportedException>(() => Quantizer.Quantize(type, new float[256], new byte[4096], 256));
        Assert.Contains(type.ToString(), ex.Message);
        Assert.Throws<NotSupportedException>(() => Quantizer.Dequantize(type, new byte[QuantFormat.Get(type).BytesPerBlock], new float[256]));
        Assert.False(QuantFormat.Get(type).CanQuantize);
    }
}
