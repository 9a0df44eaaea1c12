using Quantization.Gguf;

namespace Quantization.Tests.Gguf;

/// <summary>A tensor read from a GGUF file goes straight into the matrix-vector product, whole or by row ranges.</summary>
public sealed class GgufMatVecTests
{
    [Theory]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.Q8_0)]
    public void TensorViewFeedsMatVec(QuantType type)
    {
        const int rows = 7, columns = 512;
        var random = new Random(11);
        var weights = new float[rows * columns];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() - 0.5);
        }

        var packed = new byte[Quantizer.GetByteCount(type, weights.Length)];
        Quantizer.Quantize(type, weights, packed, columns);
        var x = new float[columns];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() - 0.5);
        }

        var expected = new float[rows];
        QuantizedMath.MatVec(type, packed, rows, columns, x, expected);

        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            writer.SetMetadata("general.architecture", GgufValue.FromString("test"));
            writer.AddTensor("bias", QuantType.F32, [3]); // so the weight tensor does not start at the data section's start
            writer.AddTensor("w", type, [columns, rows]);
            writer.WriteTensorData(new byte[12]);
            writer.WriteTensorData(packed);
            writer.Finish();
        }

        using GgufFile file = GgufFile.Read(stream.ToArray());
        GgufTensorView view = file.GetTensorView("w");
        Assert.Equal(type, view.Type);
        Assert.Equal(rows, view.Rows);
        Assert.Equal(columns, view.Columns);

        var whole = new float[rows];
        QuantizedMath.MatVec(view.Type, view.Span, (int)view.Rows, (int)view.Columns, x, whole);
        Assert.Equal(expected, whole);

        // Row ranges (what a tensor over 2 GiB is read through) give the same rows.
        var ranged = new float[rows];
        for (int first = 0; first < rows; first += 3)
        {
            int count = Math.Min(3, rows - first);
            QuantizedMath.MatVec(view.Type, view.GetRows(first, count), count, (int)view.Columns, x, ranged.AsSpan(first, count));
        }

        Assert.Equal(expected, ranged);
    }
}
