using System.Runtime.InteropServices;
using System.Text;
using Quantization.BitsAndBytes;
using Quantization.Checkpoints;
using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>
/// bitsandbytes Linear4bit weights as saved (the tensors and the packed JSON state, written here as bitsandbytes' as_dict
/// writes them), quantized by the library's port of quantize_4bit, read back and multiplied.
/// </summary>
public sealed class BitsAndBytes4BitMatrixTests
{
    /// <summary>bitsandbytes' NF4 code (its create_normal_map values as stored in quant_map).</summary>
    private static readonly float[] Nf4Map =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
        -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    private static byte[] FloatBytes(ReadOnlySpan<float> values) => MemoryMarshal.AsBytes(values).ToArray();

    [Theory]
    [InlineData("nf4", 64, 16, 128, false)]
    [InlineData("nf4", 64, 16, 128, true)]
    [InlineData("fp4", 64, 8, 192, false)]
    [InlineData("nf4", 128, 10, 96, false)]   // blocks straddle rows
    [InlineData("nf4", 64, 5, 33, true)]      // odd element count, odd row starts
    [InlineData("fp4", 256, 3, 300, true)]
    public void SavedLayerDequantizesAndMultiplies(string quantType, int blockSize, int rows, int columns, bool nested)
    {
        QuantType type = quantType == "nf4" ? QuantType.NF4 : QuantType.FP4;
        float[] w = TestData.Gaussian((ulong)(rows * columns + blockSize), rows * columns, 0.05);
        var packed = new byte[BitsAndBytes4Bit.GetPackedByteCount(w.Length)];
        BitsAndBytesQuantState state = BitsAndBytes4Bit.Quantize(type, w, packed, blockSize, compressStatistics: nested);

        string json = nested
            ? $$"""{"quant_type": "{{quantType}}", "blocksize": {{blockSize}}, "dtype": "bfloat16", "shape": [{{rows}}, {{columns}}], "nested_blocksize": {{state.NestedBlockSize}}, "nested_dtype": "float32", "nested_offset": {{state.NestedOffset.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}}}"""
            : $$"""{"quant_type": "{{quantType}}", "blocksize": {{blockSize}}, "dtype": "float16", "shape": [{{rows}}, {{columns}}]}""";
        float[] quantMap = type == QuantType.NF4 ? Nf4Map : Fp4Map();
        BitsAndBytes4BitMatrix matrix = nested
            ? BitsAndBytes4BitMatrix.FromCheckpoint(packed, Encoding.UTF8.GetBytes(json), state.QuantizedAbsmax.Span, FloatBytes(quantMap),
                                                    FloatBytes(state.NestedAbsmax.Span), FloatBytes(state.NestedCode.Span))
            : BitsAndBytes4BitMatrix.FromCheckpoint(packed, Encoding.UTF8.GetBytes(json), FloatBytes(state.Absmax.Span), FloatBytes(quantMap));
        Assert.Equal(rows, matrix.Rows);
        Assert.Equal(columns, matrix.Columns);
        Assert.Equal(nested, matrix.QuantState.IsNested);

        var expected = new float[w.Length];
        BitsAndBytes4Bit.Dequantize(packed, state, expected);
        var actual = new float[w.Length];
        matrix.Dequantize(actual);
        Assert.Equal(expected, actual);

        const int batch = 3;
        float[] x = TestData.Gaussian(5, batch * columns, 1.0);
        var y = new float[batch * rows];
        matrix.MatVec(x.AsSpan(0, columns), y.AsSpan(0, rows), 1);
        GroupIntReference.AssertProduct(expected, rows, columns, x, y, 1);
        matrix.MatMul(x, y, batch);
        GroupIntReference.AssertProduct(expected, rows, columns, x, y, batch);

        // the in-memory constructor gives the same matrix
        var direct = new BitsAndBytes4BitMatrix(packed, state, rows, columns);
        var y2 = new float[batch * rows];
        direct.MatMul(x, y2, batch);
        Assert.Equal(y, y2);
    }

    /// <summary>Two rows of 32 values in one block of 64: codes 15 and 0 alternate (byte 0xF0), absmax 2 → +2, −2, … (NF4).</summary>
    [Fact]
    public void HandBuiltBlock()
    {
        byte[] packed = Enumerable.Repeat((byte)0xF0, 32).ToArray();
        byte[] json = Encoding.UTF8.GetBytes("""{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 32]}""");
        BitsAndBytes4BitMatrix matrix = BitsAndBytes4BitMatrix.FromCheckpoint(packed, json, FloatBytes([2f]), FloatBytes(Nf4Map));
        var w = new float[64];
        matrix.Dequantize(w);
        Assert.Equal([2f, -2f, 2f, -2f], w[..4]);
        var x = new float[32];
        x[0] = 1;
        x[1] = 3;
        x[31] = 10;
        var y = new float[2];
        matrix.MatVec(x, y);
        Assert.Equal([2f - 6f - 20f, 2f - 6f - 20f], y);
    }

    [Fact]
    public void BadTensorsAndStatesAreRejected()
    {
        byte[] packed = new byte[32];
        byte[] map = FloatBytes(Nf4Map);
        byte[] absmax = FloatBytes([1f]);
        static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf8", "blocksize": 64, "shape": [2, 32]}"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "shape": [2, 32]}"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blocksize": 64, "shape": [2, -32]}"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blocksize": 64, "shape": 64}"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": 4, "blocksize": 64, "shape": [2, 32]}"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blo"""), absmax, map));
        Assert.Throws<InvalidDataException>(() => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blocksize": 64, "shape": [2, 32], "nested_blocksize": 256}"""), new byte[1], map));
        byte[] good = Json("""{"quant_type": "nf4", "blocksize": 64, "shape": [2, 32]}""");
        Assert.Throws<ArgumentException>("quantState", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blocksize": 64, "shape": [64]}"""), absmax, map));
        Assert.Throws<ArgumentException>("blockSize", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, Json("""{"quant_type": "nf4", "blocksize": 48, "shape": [2, 32]}"""), absmax, map));
        Assert.Throws<ArgumentException>("absmax", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, good, FloatBytes([1f, 2f]), map));
        Assert.Throws<ArgumentException>("quantMap", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, good, absmax, map.AsSpan(4)));
        Assert.Throws<ArgumentException>("packed", () => BitsAndBytes4BitMatrix.FromCheckpoint(new byte[31], good, absmax, map));
        byte[] nestedJson = Json("""{"quant_type": "nf4", "blocksize": 64, "shape": [2, 32], "nested_blocksize": 256, "nested_offset": 0.5}""");
        Assert.Throws<ArgumentException>("nestedAbsmax", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, nestedJson, new byte[1], map, default, new byte[1024]));
        Assert.Throws<ArgumentException>("nestedQuantMap", () => BitsAndBytes4BitMatrix.FromCheckpoint(packed, nestedJson, new byte[1], map, new byte[4], new byte[1000]));

        BitsAndBytes4BitMatrix matrix = BitsAndBytes4BitMatrix.FromCheckpoint(packed, good, absmax, map);
        Assert.Throws<ArgumentException>("x", () => matrix.MatVec(new float[31], new float[2]));
        Assert.Throws<ArgumentException>("y", () => matrix.MatVec(new float[32], new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>("batch", () => matrix.MatMul(new float[32], new float[2], -1));
        Assert.Throws<ArgumentOutOfRangeException>("maxDegreeOfParallelism", () => matrix.MatVec(new float[32], new float[2], -2));
    }

    /// <summary>bitsandbytes' FP4 code values (sign, 2 exponent bits, 1 mantissa bit, scaled so the largest is 1).</summary>
    private static float[] Fp4Map()
    {
        float[] magnitudes = [0f, 0.0625f / 12f, 8f / 12f, 12f / 12f, 4f / 12f, 6f / 12f, 2f / 12f, 3f / 12f];
        var map = new float[16];
        for (int i = 0; i < 8; i++)
        {
            map[i] = magnitudes[i];
            map[8 + i] = -magnitudes[i];
        }

        return map;
    }
}
