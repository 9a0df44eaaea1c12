using System.Runtime.InteropServices;
using Quantization.Checkpoints;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>FP8 checkpoint weights with per-tensor, per-output and 128 × 128 block scales against a naive E4M3 decoder.</summary>
public sealed class Fp8WeightMatrixTests
{
    /// <summary>E4M3FN by its definition: sign, 4 exponent bits (bias 7), 3 mantissa bits, subnormals, S.1111.111 = NaN.</summary>
    private static float DecodeE4M3(byte code)
    {
        int exponent = (code >> 3) & 0xF;
        int mantissa = code & 7;
        double magnitude = exponent == 0 ? mantissa / 8.0 * Math.Pow(2, -6)
            : exponent == 15 && mantissa == 7 ? double.NaN
            : (1 + mantissa / 8.0) * Math.Pow(2, exponent - 7);
        return (float)((code & 0x80) != 0 ? -magnitude : magnitude);
    }

    public static TheoryData<string, int, int> Cases() => new()
    {
        { "tensor", 40, 72 },
        { "row", 40, 72 },
        { "row2d", 16, 24 },
        { "block", 200, 300 },
        { "block", 128, 256 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DequantizeAndProductsMatchTheDefinition(string kind, int rows, int columns)
    {
        var rng = new TestRng((ulong)(rows * columns));
        float[] w = TestData.Gaussian((ulong)rows, rows * columns, 1.0);
        int blockRows = (rows + 127) / 128, blockColumns = (columns + 127) / 128;
        (int[] shape, float[] scales) = kind switch
        {
            "tensor" => (Array.Empty<int>(), new float[1]),
            "row" => ([rows], new float[rows]),
            "row2d" => ([rows, 1], new float[rows]),
            _ => ([blockRows, blockColumns], new float[blockRows * blockColumns]),
        };
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)(0.001 + rng.NextDouble() / 100);
        }

        float ScaleOf(int r, int c) => kind switch
        {
            "tensor" => scales[0],
            "row" or "row2d" => scales[r],
            _ => scales[r / 128 * blockColumns + c / 128],
        };

        var codes = new byte[rows * columns];
        var expected = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                codes[r * columns + c] = Fp8E4M3.FromSingle(w[r * columns + c] / ScaleOf(r, c) * 0.01f);
                expected[r * columns + c] = DecodeE4M3(codes[r * columns + c]) * ScaleOf(r, c);
            }
        }

        var matrix = new Fp8WeightMatrix(codes, rows, columns, MemoryMarshal.AsBytes(scales.AsSpan()), shape);
        Assert.Equal(kind switch { "tensor" => SchemeGranularity.Tensor, "block" => SchemeGranularity.Block2D, _ => SchemeGranularity.Row }, matrix.Scheme.Granularity);
        var actual = new float[rows * columns];
        matrix.Dequantize(actual);
        Assert.Equal(expected, actual);
        var fromScheme = new float[rows * columns];
        SchemeQuantizer.Dequantize(matrix.Scheme, matrix.SchemeWeights.Span, rows, columns, fromScheme);
        Assert.Equal(expected, fromScheme);

        const int batch = 2;
        float[] x = TestData.Gaussian(3, batch * columns, 1.0);
        var y = new float[batch * rows];
        matrix.MatVec(x.AsSpan(0, columns), y.AsSpan(0, rows), 1);
        GroupIntReference.AssertProduct(expected, rows, columns, x, y, 1);
        matrix.MatMul(x, y, batch);
        GroupIntReference.AssertProduct(expected, rows, columns, x, y, batch);
    }

    /// <summary>A 2 × 2 weight, per-tensor scale 0.5: E4M3 0x38 = 1, 0x40 = 2, 0xC4 = −3, 0x01 = 2⁻⁹.</summary>
    [Fact]
    public void HandBuiltCodes()
    {
        var matrix = new Fp8WeightMatrix([0x38, 0x40, 0xC4, 0x01], 2, 2, MemoryMarshal.AsBytes(new[] { 0.5f }.AsSpan()), [1]);
        var w = new float[4];
        matrix.Dequantize(w);
        Assert.Equal([0.5f, 1f, -1.5f, 1f / 1024], w);
        var y = new float[2];
        matrix.MatVec([2f, 1f], y);
        Assert.Equal([2f, -3f + 1f / 1024], y);
    }

    [Fact]
    public void BadShapesAreRejected()
    {
        byte[] codes = new byte[16 * 16];
        byte[] one = new byte[4];
        Assert.Throws<ArgumentOutOfRangeException>("outFeatures", () => new Fp8WeightMatrix(codes, 0, 16, one, []));
        Assert.Throws<ArgumentOutOfRangeException>("inFeatures", () => new Fp8WeightMatrix(codes, 16, -1, one, []));
        Assert.Throws<ArgumentException>("weight", () => new Fp8WeightMatrix(codes.AsSpan(1), 16, 16, one, []));
        Assert.Throws<ArgumentException>("scaleShape", () => new Fp8WeightMatrix(codes, 16, 16, new byte[8], [2]));
        Assert.Throws<ArgumentException>("scaleShape", () => new Fp8WeightMatrix(codes, 16, 16, new byte[4], [1, 2, 3]));
        Assert.Throws<ArgumentException>("scaleShape", () => new Fp8WeightMatrix(codes, 16, 16, new byte[4], [-1]));
        Assert.Throws<ArgumentException>("scale", () => new Fp8WeightMatrix(codes, 16, 16, new byte[8], [16]));
        Assert.Throws<ArgumentOutOfRangeException>("blockSize", () => new Fp8WeightMatrix(codes, 16, 16, one, [1, 1], blockSize: 0));
    }
}
