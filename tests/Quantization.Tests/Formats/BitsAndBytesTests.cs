using FsCheck;
using FsCheck.Fluent;
using Quantization.BitsAndBytes;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>
/// bitsandbytes' own 4-bit tensors: codes and absmax against a plain re-statement of bitsandbytes' rule, the padding
/// nibble, partial last blocks, double quantization against an independent implementation, lossless conversion to
/// NF4 / FP4 blocks and argument validation.
/// </summary>
public sealed class BitsAndBytesTests
{
    private static readonly int[] s_blockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096];

    /// <summary>bitsandbytes' quantize_4bit written out plainly: packed codes (high nibble first, pad = code of 0) and absmax.</summary>
    private static (byte[] Packed, float[] Absmax) Oracle(QuantType type, float[] x, int blockSize)
    {
        float[] table = Nf4Tests.Expected(type);
        int n = x.Length;
        int blocks = (n + blockSize - 1) / blockSize;
        var absmax = new float[blocks];
        var codes = new int[n + 1];
        for (int b = 0; b < blocks; b++)
        {
            int end = Math.Min(n, (b + 1) * blockSize);
            float max = 0;
            for (int i = b * blockSize; i < end; i++)
            {
                max = Math.Max(max, Math.Abs(x[i]));
            }

            absmax[b] = max;
            float id = max == 0 ? 0 : 1f / max;
            for (int i = b * blockSize; i < end; i++)
            {
                codes[i] = Nf4Tests.ArgminCode(table, Math.Clamp(x[i] * id, -1f, 1f));
            }
        }

        codes[n] = Nf4Tests.ArgminCode(table, 0f);
        var packed = new byte[(n + 1) / 2];
        for (int i = 0; i < packed.Length; i++)
        {
            packed[i] = (byte)((codes[2 * i] << 4) | codes[2 * i + 1]);
        }

        return (packed, absmax);
    }

    private static float[] Data(ulong seed, int n) => (seed % 4) switch
    {
        0 => TestData.Gaussian(seed, n, 0.02),
        1 => TestData.HeavyTailed(seed, n),
        2 => TestData.Uniform(seed, n, -3, 1),
        _ => TestData.Adversarial(seed, Math.Max(n, 32))[..n],
    };

    [Fact]
    public void QuantizeFollowsTheRuleForEveryBlockSizeAndLength()
    {
        Prop.ForAll(
            Gen.Choose(0, 7).ToArbitrary(), Gen.Choose(0, 2600).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (bsIndex, n, seed) =>
            {
                QuantType type = seed % 2 == 0 ? QuantType.NF4 : QuantType.FP4;
                int blockSize = s_blockSizes[bsIndex];
                float[] x = Data(seed / 2, n);
                (byte[] expectedPacked, float[] expectedAbsmax) = Oracle(type, x, blockSize);
                var packed = new byte[BitsAndBytes4Bit.GetPackedByteCount(n)];
                var absmax = new float[BitsAndBytes4Bit.GetBlockCount(n, blockSize)];
                BitsAndBytes4Bit.Quantize(type, x, packed, absmax, blockSize);
                Assert.Equal(expectedAbsmax, absmax);
                Assert.Equal(expectedPacked, packed);

                // Dequantize: value[code] · absmax of the element's block.
                float[] table = Nf4Tests.Expected(type);
                var y = new float[n];
                BitsAndBytes4Bit.Dequantize(type, packed, absmax, blockSize, y);
                for (int i = 0; i < n; i++)
                {
                    int code = (i & 1) == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xF;
                    Assert.Equal(BitConverter.SingleToInt32Bits(table[code] * absmax[i / blockSize]), BitConverter.SingleToInt32Bits(y[i]));
                }
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void DequantizeArbitraryBytesTableTimesAbsmax()
    {
        Prop.ForAll(
            Gen.Choose(0, 7).ToArbitrary(), Gen.Choose(0, 2600).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (bsIndex, n, seed) =>
            {
                QuantType type = seed % 2 == 0 ? QuantType.NF4 : QuantType.FP4;
                int blockSize = s_blockSizes[bsIndex];
                var rng = new TestRng(seed);
                var packed = new byte[(n + 1) / 2];
                rng.NextUInt64();
                for (int i = 0; i < packed.Length; i++)
                {
                    packed[i] = (byte)rng.NextUInt64();
                }

                var absmax = new float[(n + blockSize - 1) / blockSize];
                for (int b = 0; b < absmax.Length; b++)
                {
                    absmax[b] = (float)(rng.NextDouble() * 10);
                }

                float[] table = Nf4Tests.Expected(type);
                var y = new float[n];
                BitsAndBytes4Bit.Dequantize(type, packed, absmax, blockSize, y);
                for (int i = 0; i < n; i++)
                {
                    int code = (i & 1) == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xF;
                    Assert.Equal(BitConverter.SingleToInt32Bits(table[code] * absmax[i / blockSize]), BitConverter.SingleToInt32Bits(y[i]));
                }
            }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(QuantType.NF4, new byte[] { 0xF0, 0xC7 })] // codes 15, 0, 12 (0.5 lies below the 0.4407/0.5626 midpoint), pad 7
    [InlineData(QuantType.FP4, new byte[] { 0x3B, 0x50 })] // codes 3, 11, 5, pad 0
    public void OddLengthPadsTheLastLowNibbleWithTheCodeOfZero(QuantType type, byte[] expected)
    {
        var packed = new byte[2];
        var absmax = new float[1];
        BitsAndBytes4Bit.Quantize(type, [1f, -1f, 0.5f], packed, absmax, 64);
        Assert.Equal(expected, packed);
        Assert.Equal(1f, absmax[0]);

        // The padding nibble is never read: any value there decodes the same three elements.
        var y1 = new float[3];
        var y2 = new float[3];
        BitsAndBytes4Bit.Dequantize(type, packed, absmax, 64, y1);
        packed[1] = (byte)((packed[1] & 0xF0) | 0x0B);
        BitsAndBytes4Bit.Dequantize(type, packed, absmax, 64, y2);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void LastPartialBlockHasItsOwnAbsmax()
    {
        float[] x = [.. Enumerable.Range(0, 64).Select(i => (float)(i - 32)), .. Enumerable.Range(0, 10).Select(i => i * 0.125f)];
        var packed = new byte[37];
        var absmax = new float[2];
        BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, absmax, 64);
        Assert.Equal([32f, 1.125f], absmax);
        // Scaled by 1/1.125: element 64 = 0 → code 7, element 65 = 0.111 → code 8 (below the 0.1203 midpoint),
        // elements 72 and 73 = 0.889 and 1 → code 15 (above the 0.8615 midpoint).
        Assert.Equal(0x78, packed[32]);
        Assert.Equal(0xFF, packed[36]);
    }

    [Theory]
    [InlineData(QuantType.NF4)]
    [InlineData(QuantType.FP4)]
    public void BlockSize64IsLosslesslyTheQuantTypeBlocks(QuantType type)
    {
        Prop.ForAll(
            Gen.Choose(0, 40).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (blocks, seed) =>
            {
                int n = blocks * 64;
                float[] x = Data(seed, n);
                var packed = new byte[n / 2];
                var absmax = new float[blocks];
                BitsAndBytes4Bit.Quantize(type, x, packed, absmax, 64);
                var q = new byte[blocks * 36];
                Quantizer.Quantize(type, x, q, n == 0 ? 64 : n);

                var converted = new byte[blocks * 36];
                BitsAndBytes4Bit.ToQuantBlocks(packed, absmax, converted);
                Assert.Equal(q, converted);

                var packedBack = new byte[n / 2];
                var absmaxBack = new float[blocks];
                BitsAndBytes4Bit.FromQuantBlocks(q, packedBack, absmaxBack);
                Assert.Equal(packed, packedBack);
                Assert.Equal(absmax, absmaxBack);

                var y1 = new float[n];
                var y2 = new float[n];
                Quantizer.Dequantize(type, q, y1);
                BitsAndBytes4Bit.Dequantize(type, packed, absmax, 64, y2);
                Assert.Equal(y1, y2);
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void ConversionCopiesArbitraryBlocksByteForByte()
    {
        var rng = new TestRng(99);
        var blocks = new byte[7 * 36];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (byte)rng.NextUInt64();
        }

        for (int b = 0; b < 7; b++)
        {
            BitConverter.TryWriteBytes(blocks.AsSpan(b * 36), (float)(rng.NextDouble() * 100));
        }

        var packed = new byte[7 * 32];
        var absmax = new float[7];
        BitsAndBytes4Bit.FromQuantBlocks(blocks, packed, absmax);
        var back = new byte[blocks.Length];
        BitsAndBytes4Bit.ToQuantBlocks(packed, absmax, back);
        Assert.Equal(blocks, back);
        Assert.Equal(blocks.AsSpan(40, 32).ToArray(), packed.AsSpan(32, 32).ToArray());
    }

    // ------------------------------------------------------------------ double quantization

    /// <summary>create_dynamic_map(signed) from its definition: linspace boundaries, means of neighbours, powers of ten.</summary>
    private static float[] DynamicMapFromDefinition(bool signed)
    {
        var data = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            int fractionItems = signed ? (1 << i) + 1 : (1 << (i + 1)) + 1;
            double[] boundaries = [.. Enumerable.Range(0, fractionItems).Select(j => 0.1 + j * (1 - 0.1) / (fractionItems - 1))];
            for (int j = 0; j + 1 < fractionItems; j++)
            {
                double mean = (boundaries[j] + boundaries[j + 1]) / 2.0;
                data.Add(Math.Pow(10, -(7 - 1) + i) * mean);
                if (signed)
                {
                    data.Add(-Math.Pow(10, -(7 - 1) + i) * mean);
                }
            }
        }

        data.Add(0);
        data.Add(1.0);
        Assert.Equal(256, data.Count);
        return [.. data.Order().Select(v => (float)v)];
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DynamicMapMatchesItsDefinition(bool signed)
    {
        float[] code = BlockwiseQuantization.CreateDynamicMap(signed);
        float[] expected = DynamicMapFromDefinition(signed);
        Assert.Equal(256, code.Length);
        for (int i = 0; i < 256; i++)
        {
            // Two double evaluations of the same real number, each rounded once: equal, or one float apart at worst.
            Assert.True(code[i] == expected[i] || MathF.BitIncrement(code[i]) == expected[i] || MathF.BitDecrement(code[i]) == expected[i],
                $"code[{i}] = {code[i]:R}, definition gives {expected[i]:R}");
            Assert.True(i == 0 || code[i] > code[i - 1], "strictly ascending");
        }

        Assert.Equal(1f, code[255]);
        if (signed)
        {
            Assert.Equal(-0.99296875f, code[0]);       // −(1 + (1 − 0.9/64)) / 2
            Assert.Equal(0f, code[127]);
            Assert.Equal(0.99296875f, code[254]);
            Assert.Equal(5.5e-7f, code[128], 1e-13f);   // 10⁻⁶ · (0.1 + 1) / 2
            for (int i = 0; i < 127; i++)
            {
                Assert.Equal(-code[i], code[254 - i]);
            }
        }
        else
        {
            Assert.Equal(0f, code[0]);
        }
    }

    [Fact]
    public void DoubleQuantizationAgreesWithAPlainImplementation()
    {
        Prop.ForAll(
            Gen.Choose(0, 3).ToArbitrary(), Gen.Choose(0, 40000).ToArbitrary(), ArbMap.Default.ArbFor<ulong>(),
            (bsIndex, n, seed) =>
            {
                QuantType type = seed % 2 == 0 ? QuantType.NF4 : QuantType.FP4;
                int blockSize = s_blockSizes[bsIndex];
                float[] x = Data(seed / 2, n);
                (byte[] expectedPacked, float[] trueAbsmax) = Oracle(type, x, blockSize);
                var packed = new byte[BitsAndBytes4Bit.GetPackedByteCount(n)];
                BitsAndBytesQuantState state = BitsAndBytes4Bit.Quantize(type, x, packed, blockSize, compressStatistics: true);
                Assert.Equal(expectedPacked, packed);
                Assert.True(state.IsNested);
                Assert.True(state.Absmax.IsEmpty);
                Assert.Equal(type, state.QuantType);
                Assert.Equal(blockSize, state.BlockSize);
                Assert.Equal(n, state.ElementCount);
                Assert.Equal(256, state.NestedBlockSize);
                Assert.Equal(BlockwiseQuantization.CreateDynamicMap(true), state.NestedCode.ToArray());

                // Offset: mean in double, block order, rounded once.
                int blocks = trueAbsmax.Length;
                double sum = 0;
                for (int i = 0; i < blocks; i++)
                {
                    sum += trueAbsmax[i];
                }

                float offset = blocks == 0 ? 0 : (float)(sum / blocks);
                Assert.Equal(offset, state.NestedOffset);

                // 8-bit blocks of 256: absmax, x / absmax, first nearest code (bitsandbytes' left-biased search).
                float[] code = state.NestedCode.ToArray();
                var q = new byte[blocks];
                var nested = new float[(blocks + 255) / 256];
                for (int nb = 0; nb < nested.Length; nb++)
                {
                    int end = Math.Min(blocks, (nb + 1) * 256);
                    float max = 0;
                    for (int i = nb * 256; i < end; i++)
                    {
                        max = Math.Max(max, Math.Abs(trueAbsmax[i] - offset));
                    }

                    nested[nb] = max;
                    for (int i = nb * 256; i < end; i++)
                    {
                        float normed = max == 0 ? 0 : (trueAbsmax[i] - offset) / max;
                        int best = 0;
                        for (int c = 1; c < 256; c++)
                        {
                            if (Math.Abs(normed - code[c]) < Math.Abs(normed - code[best]))
                            {
                                best = c;
                            }
                        }

                        q[i] = (byte)best;
                    }
                }

                Assert.Equal(q, state.QuantizedAbsmax.ToArray());
                Assert.Equal(nested, state.NestedAbsmax.ToArray());

                // absmax[i] = code[q[i]] · nested[i / 256] + offset, two float32 roundings.
                float[] absmax = state.GetAbsmax();
                var intoBuffer = new float[absmax.Length + 3];
                state.GetAbsmax(intoBuffer);
                Assert.Equal(absmax, intoBuffer.AsSpan(0, absmax.Length).ToArray());
                Assert.Equal("destination", Assert.Throws<ArgumentException>(() => state.GetAbsmax(new float[absmax.Length - 1])).ParamName);
                for (int i = 0; i < blocks; i++)
                {
                    float expected = code[q[i]] * nested[i / 256] + offset;
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(absmax[i]));
                    // The 8-bit code's largest step is 0.9/64 (next to ±1): the error is at most half of it, plus rounding.
                    Assert.True(Math.Abs(absmax[i] - trueAbsmax[i]) <= (0.9 / 128 + 1e-6) * nested[i / 256] + 1e-6 * Math.Abs(offset),
                        $"block {i}: {absmax[i]} vs {trueAbsmax[i]}");
                }

                var y = new float[n];
                var yExpected = new float[n];
                BitsAndBytes4Bit.Dequantize(packed, state, y);
                BitsAndBytes4Bit.Dequantize(type, packed, absmax, blockSize, yExpected);
                Assert.Equal(yExpected, y);
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void StateWithoutDoubleQuantizationKeepsTheAbsmax()
    {
        float[] x = TestData.Gaussian(3, 300, 1);
        var packed = new byte[150];
        BitsAndBytesQuantState state = BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, 128, compressStatistics: false);
        (byte[] expectedPacked, float[] expectedAbsmax) = Oracle(QuantType.NF4, x, 128);
        Assert.False(state.IsNested);
        Assert.Equal(expectedPacked, packed);
        Assert.Equal(expectedAbsmax, state.Absmax.ToArray());
        Assert.Equal(3, state.BlockCount);
        Assert.Equal(expectedAbsmax, state.GetAbsmax());
        var intoBuffer = new float[expectedAbsmax.Length];
        state.GetAbsmax(intoBuffer);
        Assert.Equal(expectedAbsmax, intoBuffer);
        var map = new float[256];
        BlockwiseQuantization.WriteDynamicMap(map, signed: false);
        Assert.Equal(BlockwiseQuantization.CreateDynamicMap(signed: false), map);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => BlockwiseQuantization.WriteDynamicMap(new float[255])).ParamName);
    }

    [Fact]
    public void BlockwiseEightBitRoundTrip()
    {
        float[] x = TestData.Uniform(8, 1000, -5, 3);
        float[] code = BlockwiseQuantization.CreateDynamicMap();
        var q = new byte[1000];
        var absmax = new float[4];
        BlockwiseQuantization.Quantize(x, code, 256, q, absmax);
        var y = new float[1000];
        BlockwiseQuantization.Dequantize(q, absmax, code, 256, y);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(code[q[i]] * absmax[i / 256]), BitConverter.SingleToInt32Bits(y[i]));
            Assert.True(Math.Abs(y[i] - x[i]) <= (0.9 / 128 + 1e-6) * absmax[i / 256]);
        }

        // Ties stay on the left: a value exactly between two codes (where that midpoint is a float) gets the lower index.
        int ties = 0;
        for (int i = 128; i < 255; i++)
        {
            double m = ((double)code[i] + code[i + 1]) / 2;
            if ((float)m == m)
            {
                var qt = new byte[2];
                BlockwiseQuantization.Quantize([1f, (float)m], code, 256, qt, new float[1]);
                Assert.Equal(i, qt[1]);
                BlockwiseQuantization.Quantize([1f, MathF.BitIncrement((float)m)], code, 256, qt, new float[1]);
                Assert.Equal(i + 1, qt[1]);
                ties++;
            }
        }

        Assert.True(ties > 0);
    }

    // ------------------------------------------------------------------ validation

    private static void Untouched(byte[] b) => Assert.All(b, v => Assert.Equal(0xA5, v));

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(48)]
    [InlineData(96)]
    [InlineData(8192)]
    [InlineData(-64)]
    public void BlockSizesOutsideBitsAndBytesAreRejected(int blockSize)
    {
        float[] x = TestData.Gaussian(1, 128, 1);
        byte[] packed = Enumerable.Repeat((byte)0xA5, 64).ToArray();
        Assert.Equal("blockSize", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, new float[200], blockSize)).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, blockSize, true)).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(QuantType.NF4, packed, new float[2], blockSize, new float[128])).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.GetBlockCount(128, blockSize)).ParamName);
        Untouched(packed);
    }

    [Fact]
    public void WrongTypesLengthsAndValuesAreRejectedAndNothingIsWritten()
    {
        float[] x = TestData.Gaussian(2, 129, 1);
        byte[] packed = Enumerable.Repeat((byte)0xA5, 65).ToArray();
        var absmax = new float[3];
        Assert.Equal("type", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.Q4_0, x, packed, absmax, 64)).ParamName);
        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed.AsSpan(0, 64).ToArray(), absmax, 64)).ParamName);
        Assert.Equal("absmax", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, new float[2], 64)).ParamName);
        x[100] = float.PositiveInfinity;
        ArgumentException ex = Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.FP4, x, packed, absmax, 64));
        Assert.Equal("source", ex.ParamName);
        Assert.Contains("source[100]", ex.Message);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Quantize(QuantType.FP4, x, packed, 64, true)).ParamName);
        Untouched(packed);
        Assert.All(absmax, v => Assert.Equal(0f, v));

        // Dequantize: exact source lengths.
        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(QuantType.NF4, new byte[64], new float[3], 64, new float[129])).ParamName);
        Assert.Equal("absmax", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(QuantType.NF4, new byte[65], new float[2], 64, new float[129])).ParamName);
        Assert.Equal("type", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(QuantType.F32, new byte[65], new float[3], 64, new float[129])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => BitsAndBytes4Bit.GetPackedByteCount(-1));

        // Conversion.
        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.ToQuantBlocks(new byte[63], new float[2], new byte[72])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.ToQuantBlocks(new byte[64], new float[2], new byte[71])).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.FromQuantBlocks(new byte[71], new byte[64], new float[2])).ParamName);
        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.FromQuantBlocks(new byte[72], new byte[63], new float[2])).ParamName);
        Assert.Equal("absmax", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.FromQuantBlocks(new byte[72], new byte[64], new float[1])).ParamName);

        // 8-bit code.
        Assert.Equal("code", Assert.Throws<ArgumentException>(() => BlockwiseQuantization.Quantize(new float[4], new float[255], 256, new byte[4], new float[1])).ParamName);
        Assert.Equal("absmax", Assert.Throws<ArgumentException>(() => BlockwiseQuantization.Dequantize(new byte[300], new float[1], new float[256], 256, new float[300])).ParamName);
    }

    [Fact]
    public void InconsistentStatesAreRejected()
    {
        float[] x = TestData.Gaussian(4, 1000, 1);
        var packed = new byte[500];
        BitsAndBytesQuantState good = BitsAndBytes4Bit.Quantize(QuantType.NF4, x, packed, 64, true);
        var y = new float[1000];
        BitsAndBytesQuantState[] bad =
        [
            new() { QuantType = QuantType.NF4, BlockSize = 64, ElementCount = 1000, Absmax = new float[15] },
            new() { QuantType = QuantType.NF4, BlockSize = 64, ElementCount = 1000 },
            new() { QuantType = QuantType.Q8_0, BlockSize = 64, ElementCount = 1000, Absmax = new float[16] },
            new() { QuantType = QuantType.NF4, BlockSize = 100, ElementCount = 1000, Absmax = new float[10] },
            new() { QuantType = QuantType.NF4, BlockSize = 64, ElementCount = 1000, QuantizedAbsmax = new byte[16], NestedAbsmax = new float[1] },
            new() { QuantType = QuantType.NF4, BlockSize = 64, ElementCount = 1000, QuantizedAbsmax = new byte[16], NestedAbsmax = new float[2], NestedCode = good.NestedCode },
            new() { QuantType = QuantType.NF4, BlockSize = 64, ElementCount = 1000, QuantizedAbsmax = new byte[15], NestedAbsmax = new float[1], NestedCode = good.NestedCode },
        ];
        foreach (BitsAndBytesQuantState s in bad)
        {
            Assert.ThrowsAny<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(packed, s, y));
        }

        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(packed.AsSpan(0, 499), good, y)).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => BitsAndBytes4Bit.Dequantize(packed, good, new float[999])).ParamName);
        Assert.Throws<ArgumentNullException>(() => BitsAndBytes4Bit.Dequantize(packed, null!, y));
    }
}
