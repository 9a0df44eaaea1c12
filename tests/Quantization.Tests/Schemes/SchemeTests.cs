using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Schemes;

/// <summary>The scheme quantizer against <see cref="SchemeOracle"/>, literal layouts, ties, the vector paths against the reference, arguments.</summary>
public sealed class SchemeTests
{
    /// <summary>Schemes with a shape each: every granularity, every bit width, both kinds of zero point, every scale type, partial tiles.</summary>
    public static readonly (QuantScheme Scheme, int Rows, int Columns)[] Cases =
    [
        (QuantScheme.Int8PerTensor, 9, 200),
        (QuantScheme.Int8PerChannel, 9, 200),
        (QuantScheme.Group(2, 32), 5, 256),
        (QuantScheme.Group(3, 32), 5, 256),
        (QuantScheme.Group(4, 32), 5, 256),
        (QuantScheme.Group(5, 32), 5, 256),
        (QuantScheme.Group(6, 32), 5, 256),
        (QuantScheme.Group(7, 32), 5, 256),
        (QuantScheme.Group(8, 32), 5, 256),
        (QuantScheme.Group(2, 128, symmetric: false), 5, 256),
        (QuantScheme.Group(3, 128, symmetric: false), 5, 256),
        (QuantScheme.Group(4, 128, symmetric: false), 5, 256),
        (QuantScheme.Group(4, 32, symmetric: false, SchemeScaleType.F16), 5, 256),
        (QuantScheme.Group(5, 16, symmetric: false, SchemeScaleType.BF16), 5, 256),
        (QuantScheme.Group(8, 64, symmetric: true, SchemeScaleType.BF16), 5, 256),
        (QuantScheme.Integer(5, SchemeGranularity.Row), 4, 44),
        (QuantScheme.Integer(3, SchemeGranularity.Tensor, 0, symmetric: false), 4, 44),
        (QuantScheme.Integer(4, SchemeGranularity.Block2D, 16, symmetric: false), 40, 56),
        (QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Tensor), 6, 200),
        (QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Row), 6, 200),
        (QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128), 200, 300),
        (QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Block2D, 128), 130, 256),
        (QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Group, 32, SchemeScaleType.F16), 3, 96),
    ];

    public static TheoryData<int, string> CaseData()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Cases.Length; i++)
        {
            foreach (string set in new[] { "gaussian", "transformer", "adversarial" })
            {
                data.Add(i, set);
            }
        }

        return data;
    }

    public static float[] Data(string set, int n, ulong seed) => set switch
    {
        "gaussian" => TestData.Gaussian(seed, n, 1.0),
        "transformer" => TestData.TransformerLike(seed, n),
        _ => TestData.Adversarial(seed, n),
    };

    [Theory]
    [MemberData(nameof(CaseData))]
    public void QuantizeAndDequantizeEqualTheOracle(int caseIndex, string set)
    {
        (QuantScheme scheme, int rows, int columns) = Cases[caseIndex];
        float[] x = Data(set, rows * columns, (ulong)caseIndex + 100);
        byte[] expected = SchemeOracle.Quantize(scheme, x, rows, columns, out float[] scales, out int[] zeros);
        var actual = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
        SchemeQuantizer.Quantize(scheme, x, rows, columns, actual);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i] == actual[i], $"{scheme} {set}: byte {i} of {expected.Length} (codes end at {rows * SchemeOracle.RowBytes(scheme, columns)}): expected {expected[i]}, got {actual[i]}");
        }

        float[] expectedValues = SchemeOracle.Dequantize(scheme, expected, rows, columns, scales, zeros);
        var values = new float[rows * columns];
        SchemeQuantizer.Dequantize(scheme, actual, rows, columns, values);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expectedValues[i]) == BitConverter.SingleToInt32Bits(values[i]),
                        $"{scheme} {set}: value {i}: expected {expectedValues[i]:R}, got {values[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(CaseData))]
    public void VectorPathsEqualTheScalarReference(int caseIndex, string set)
    {
        (QuantScheme scheme, int rows, int columns) = Cases[caseIndex];
        float[] x = Data(set, rows * columns, (ulong)caseIndex + 200);
        SchemeLayout layout = SchemeLayout.Create(scheme, rows, columns);
        var reference = new byte[layout.TotalBytes];
        var fast = new byte[layout.TotalBytes];
        SchemeReference.Quantize(layout, x, reference);
        SchemeKernel.Quantize(layout, x, fast);
        Assert.Equal(reference, fast);

        // Dequantize arbitrary bytes too (every code, NaN and ∞ FP8 codes, odd scales), not only quantizer output.
        var random = new Random(caseIndex);
        random.NextBytes(fast.AsSpan(0, (int)layout.CodeBytes));
        var referenceValues = new float[rows * columns];
        var fastValues = new float[rows * columns];
        SchemeReference.Dequantize(layout, fast, referenceValues);
        SchemeKernel.Dequantize(layout, fast, fastValues);
        for (int i = 0; i < referenceValues.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(referenceValues[i]), BitConverter.SingleToInt32Bits(fastValues[i]));
        }
    }

    [Fact]
    public void Int8TiesRoundHalfToEven()
    {
        // max|w| = 127 gives scale 1, so w / scale is w: the halves are exact ties. NumPy's round: 0.5 → 0, 1.5 → 2,
        // 2.5 → 2, −0.5 → 0, −1.5 → −2, −2.5 → −2, 126.5 → 126. Codes are stored offset by 128.
        float[] x = [127f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f];
        var tensor = new byte[SchemeQuantizer.GetByteCount(QuantScheme.Int8PerTensor, 1, x.Length)];
        SchemeQuantizer.Quantize(QuantScheme.Int8PerTensor, x, 1, x.Length, tensor);
        byte[] expected = [255, 128, 130, 130, 128, 126, 126, 254, 0x00, 0x00, 0x80, 0x3F]; // codes, then scale 1.0f
        Assert.Equal(expected, tensor);
    }

    [Fact]
    public void Int8ClipsToPlusMinus127()
    {
        // An F16 scale is at most 65504: max|w| = 10^7 would need 10^7 / 127 ≈ 78740, so w / scale reaches ±152.7 and is
        // clipped to ±127 (codes 255 and 1; code 0, −128, never occurs in a symmetric scheme).
        var scheme = QuantScheme.Integer(8, SchemeGranularity.Tensor, 0, symmetric: true, SchemeScaleType.F16);
        float[] x = [1e7f, -1e7f, 65504f * 126f, 0f, 65504f * 2.5f, -65504f * 0.5f, 0f, 0f];
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 1, x.Length)];
        SchemeQuantizer.Quantize(scheme, x, 1, x.Length, tensor);
        Assert.Equal(new byte[] { 255, 1, 128 + 126, 128, 130, 128, 128, 128, 0xFF, 0x7B }, tensor); // F16 65504 = 0x7BFF
    }

    [Fact]
    public void FourBitGroupLayoutIsLowNibbleFirstThenScalesThenZeroPoints()
    {
        // One group of 16: min −1 (widened range [−1, 2]), scale 3 / 15 = 0.2, zero round(1 / 0.2) = 5.
        // Codes round(w / 0.2) + 5: w = −1 → 0, 2 → 15, 0 → 5, 0.2 → 6, … written two per byte, even code low.
        var scheme = QuantScheme.Group(4, 16, symmetric: false);
        float[] x = [-1f, 2f, 0f, 0.2f, 0.4f, 0.6f, 1f, 1.4f, -0.2f, -0.4f, 0f, 0f, 0f, 0f, 0f, 0f];
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 1, 16)];
        SchemeQuantizer.Quantize(scheme, x, 1, 16, tensor);
        float scale = 3f / 15f;
        byte[] scaleBytes = BitConverter.GetBytes(scale);
        byte[] expected = [0xF0, 0x65, 0x87, 0xCA, 0x34, 0x55, 0x55, 0x55, .. scaleBytes, 5];
        Assert.Equal(expected, tensor);
    }

    [Fact]
    public void ThreeBitCodesFormOneLittleEndianBitStream()
    {
        // Symmetric 3-bit: qmax 3, zero 4. w = [3, −3, 1, 0, 2, −1, 3, −2] with scale 1 gives codes 7 1 5 4 6 3 7 2.
        // Code i occupies stream bits 3i … 3i+2, its lowest bit first; stream bit k is bit k % 8 of byte k / 8:
        // byte 0 = bits 0–7 = 1,1,1 | 1,0,0 | 1,0 → 0b0100_1111 = 0x4F; byte 1 = 1 | 0,0,1 | 0,1,1 | 1 → 0b1110_1001 = 0xE9;
        // byte 2 = 1,0 | 1,1,1 | 0,1,0 → 0b0101_1101 = 0x5D. Then the scale, 1.0f.
        var scheme = QuantScheme.Integer(3, SchemeGranularity.Row);
        float[] x = [3f, -3f, 1f, 0f, 2f, -1f, 3f, -2f];
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 1, 8)];
        SchemeQuantizer.Quantize(scheme, x, 1, 8, tensor);
        Assert.Equal(new byte[] { 0x4F, 0xE9, 0x5D, 0x00, 0x00, 0x80, 0x3F }, tensor);
    }

    [Fact]
    public void Fp8BlockScalesAreTheInverseScaleOfEach128By128Tile()
    {
        // Two tiles side by side; the second has max|w| = 896, so its stored (inverse) scale is 896 / 448 = 2.
        var scheme = QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128);
        var x = new float[2 * 256];
        x[0] = 448f;
        x[128] = 896f;
        x[256 + 129] = -3f;
        var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 2, 256)];
        Assert.Equal(2 * 256 + 2 * 4, tensor.Length);
        SchemeQuantizer.Quantize(scheme, x, 2, 256, tensor);
        Assert.Equal(1f, BitConverter.ToSingle(tensor, 512));
        Assert.Equal(2f, BitConverter.ToSingle(tensor, 516));
        Assert.Equal(0x7E, tensor[0]);
        Assert.Equal(0x7E, tensor[128]);
        Assert.Equal(0xBC, tensor[256 + 129]); // −3 / 2 = −1.5 = 1.0111.100
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void RoundTripErrorIsAtMostHalfAStep(int bits)
    {
        foreach (bool symmetric in new[] { true, false })
        {
            var scheme = QuantScheme.Group(bits, 32, symmetric);
            float[] x = TestData.Gaussian(5, 8 * 256, 1.0);
            var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, 8, 256)];
            SchemeQuantizer.Quantize(scheme, x, 8, 256, tensor);
            var y = new float[x.Length];
            SchemeQuantizer.Dequantize(scheme, tensor, 8, 256, y);
            for (int g = 0; g < x.Length / 32; g++)
            {
                ReadOnlySpan<float> group = x.AsSpan(g * 32, 32);
                double max = 0, min = 0;
                foreach (float v in group)
                {
                    max = Math.Max(max, v);
                    min = Math.Min(min, v);
                }

                double step = symmetric ? Math.Max(max, -min) / ((1 << (bits - 1)) - 1) : (max - min) / ((1 << bits) - 1);
                for (int i = 0; i < 32; i++)
                {
                    Assert.True(Math.Abs(x[g * 32 + i] - y[g * 32 + i]) <= step * 0.5001 + 1e-7, $"{scheme} group {g} [{i}]");
                }
            }
        }
    }

    [Fact]
    public void OneOutlierChannelRuinsPerTensorInt8ButNotPerChannelOrGroups()
    {
        // 256 × 1024 weights of scale 0.02; one row (0.4 % of the rows, 0.1 % of the weights after the row is thinned) with
        // values 50 times larger. A per-tensor scale spends its 255 levels on that row.
        const int rows = 256, columns = 1024;
        float[] x = TestData.Gaussian(9, rows * columns, 0.02);
        for (int c = 0; c < columns; c += 4)
        {
            x[17 * columns + c] *= 50;
        }

        double perTensor = Error(QuantScheme.Int8PerTensor);
        double perChannel = Error(QuantScheme.Int8PerChannel);
        double group = Error(QuantScheme.Group(8, 128));
        Assert.True(perTensor > 8 * perChannel, $"per-tensor RMSE {perTensor} vs per-channel {perChannel}");
        Assert.True(group <= perChannel, $"group RMSE {group} vs per-channel {perChannel}");

        double Error(QuantScheme scheme)
        {
            var tensor = new byte[SchemeQuantizer.GetByteCount(scheme, rows, columns)];
            SchemeQuantizer.Quantize(scheme, x, rows, columns, tensor);
            var y = new float[x.Length];
            SchemeQuantizer.Dequantize(scheme, tensor, rows, columns, y);
            // The error on the ordinary rows, where the outlier row's scale does the damage.
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                if (i / columns != 17)
                {
                    sum += (x[i] - y[i]) * (double)(x[i] - y[i]);
                }
            }

            return Math.Sqrt(sum / (x.Length - columns));
        }
    }

    [Fact]
    public void BadSchemesAndShapesNameTheirParameter()
    {
        Assert.Equal("bits", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Group(9, 32)).ParamName);
        Assert.Equal("bits", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Group(1, 32)).ParamName);
        Assert.Equal("groupSize", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Group(4, 12)).ParamName);
        Assert.Equal("groupSize", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Group(4, 8192)).ParamName);
        Assert.Equal("groupSize", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Integer(4, SchemeGranularity.Row, 32)).ParamName);
        Assert.Equal("granularity", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Integer(4, (SchemeGranularity)9)).ParamName);
        Assert.Equal("scaleType", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Group(4, 32, true, (SchemeScaleType)7)).ParamName);
        Assert.Equal("element", Assert.Throws<ArgumentOutOfRangeException>(() => QuantScheme.Fp8(SchemeElement.Integer, SchemeGranularity.Row)).ParamName);
        Assert.Equal("scheme", Assert.Throws<ArgumentException>(() => SchemeQuantizer.GetByteCount(default, 1, 32)).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentException>(() => SchemeQuantizer.GetByteCount(QuantScheme.Group(4, 32), 1, 48)).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentOutOfRangeException>(() => SchemeQuantizer.GetByteCount(QuantScheme.Int8PerChannel, 1, 0)).ParamName);
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => SchemeQuantizer.GetByteCount(QuantScheme.Int8PerChannel, -1, 8)).ParamName);

        var scheme = QuantScheme.Group(4, 32);
        long bytes = SchemeQuantizer.GetByteCount(scheme, 2, 64);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => SchemeQuantizer.Quantize(scheme, new float[127], 2, 64, new byte[bytes])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => SchemeQuantizer.Quantize(scheme, new float[128], 2, 64, new byte[bytes + 1])).ParamName);
        var nan = new float[128];
        nan[77] = float.NaN;
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => SchemeQuantizer.Quantize(scheme, nan, 2, 64, new byte[bytes])).ParamName);
        Assert.Equal("source", Assert.Throws<ArgumentException>(() => SchemeQuantizer.Dequantize(scheme, new byte[bytes - 1], 2, 64, new float[128])).ParamName);
        Assert.Equal("destination", Assert.Throws<ArgumentException>(() => SchemeQuantizer.Dequantize(scheme, new byte[bytes], 2, 64, new float[129])).ParamName);
    }

    /// <summary>A NaN or an infinity anywhere is refused before a byte is written, for every kind of scheme.</summary>
    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteValuesAreRefusedBeforeAnythingIsWritten(float bad)
    {
        QuantScheme[] schemes =
        [
            QuantScheme.Group(4, 32), QuantScheme.Group(4, 32, symmetric: false), QuantScheme.Int8PerChannel, QuantScheme.Int8PerTensor,
            QuantScheme.Integer(3, SchemeGranularity.Tensor, 0, symmetric: false), QuantScheme.Integer(4, SchemeGranularity.Block2D, 16, symmetric: false),
            QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 16), QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Row),
        ];
        foreach (QuantScheme scheme in schemes)
        {
            foreach (int at in new[] { 0, 77, 255 })
            {
                float[] x = TestData.Gaussian((ulong)at + 3, 4 * 64, 1.0);
                x[at] = bad;
                var destination = new byte[SchemeQuantizer.GetByteCount(scheme, 4, 64)];
                Array.Fill(destination, (byte)0xAB);
                var error = Assert.Throws<ArgumentException>(() => SchemeQuantizer.Quantize(scheme, x, 4, 64, destination));
                Assert.Equal("source", error.ParamName);
                Assert.Contains(at.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
                Assert.All(destination, b => Assert.Equal(0xAB, b));
            }
        }
    }

    [Fact]
    public void NamesSayWhatTheSchemeIs()
    {
        Assert.Equal("int8-tensor", QuantScheme.Int8PerTensor.ToString());
        Assert.Equal("int8-row", QuantScheme.Int8PerChannel.ToString());
        Assert.Equal("int4-g128-asym", QuantScheme.Group(4, 128, symmetric: false).ToString());
        Assert.Equal("int3-g32-f16", QuantScheme.Group(3, 32, true, SchemeScaleType.F16).ToString());
        Assert.Equal("fp8-e4m3-b128", QuantScheme.Fp8(SchemeElement.Fp8E4M3, SchemeGranularity.Block2D, 128).ToString());
        Assert.Equal("fp8-e5m2-tensor", QuantScheme.Fp8(SchemeElement.Fp8E5M2, SchemeGranularity.Tensor).ToString());
    }
}
