using Quantization.Cli;
using Quantization.Gguf;
using Quantization.Lora;
using Quantization.Tests.Support;

namespace Quantization.Tests.Lora;

/// <summary><see cref="LoraMerge"/> and <c>quant merge-lora</c> against a naive scalar merge and requantization.</summary>
public sealed class LoraMergeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static (byte[] Bytes, float[] Dense) Quantized(QuantType type, ulong seed, int rows, int columns)
    {
        float[] w = TestData.Gaussian(seed, rows * columns, 0.5);
        var q = new byte[Quantizer.GetByteCount(type, w.Length)];
        Quantizer.Quantize(type, w, q, columns);
        var dense = new float[w.Length];
        Quantizer.Dequantize(type, q, dense);
        return (q, dense);
    }

    [Theory]
    [InlineData(QuantType.Q4_K, QuantType.Q4_K, 16)]
    [InlineData(QuantType.Q8_0, QuantType.Q6_K, 1)]
    [InlineData(QuantType.F16, QuantType.Q8_0, 8)]
    public void MergeIsTheNaiveFloatMergeQuantized(QuantType baseType, QuantType target, int rank)
    {
        const int rows = 40, columns = 256;
        (byte[] q, float[] dense) = Quantized(baseType, 3, rows, columns);
        LoraReference.Factors f = LoraReference.Random(5, rank, columns, rows, 0, sigma: 0.2);
        LoraAdapter adapter = LoraReference.ToAdapter(f, 0.5f);
        const float scale = 1.5f;

        var merged = new byte[Quantizer.GetByteCount(target, rows * columns)];
        LoraMerge.Merge(baseType, q, adapter, scale, target, merged, maxDegreeOfParallelism: 2);

        float[] expectedFloats = LoraReference.MergedFloat(dense, f, scale * 0.5f);
        var expected = new byte[merged.Length];
        Quantizer.Quantize(target, expectedFloats, expected, columns);
        AssertBytes.Equal(expected, merged, target);

        // And the merged weights are W + s·B·A in double, up to the target type's error.
        var back = new float[rows * columns];
        Quantizer.Dequantize(target, merged, back);
        double err = 0, norm = 0, deltaNorm = 0;
        for (int o = 0; o < rows; o++)
        {
            for (int j = 0; j < columns; j++)
            {
                double d = 0;
                for (int k = 0; k < rank; k++)
                {
                    d += (double)f.B[o * rank + k] * f.A[k * columns + j];
                }

                double w = dense[o * columns + j] + (0.75 * d);
                err += (back[o * columns + j] - w) * (back[o * columns + j] - w);
                norm += w * w;
                deltaNorm += 0.75 * d * 0.75 * d;
            }
        }

        Assert.True(Math.Sqrt(err) < 0.1 * Math.Sqrt(norm), $"relative error {Math.Sqrt(err / norm)}");
        Assert.True(Math.Sqrt(deltaNorm) > Math.Sqrt(err), "the adapter must move the weights by more than the quantization error");
    }

    [Fact]
    public void MergeRowsStreamsAnyRowRange()
    {
        const int rows = 12, columns = 64;
        (byte[] q, float[] dense) = Quantized(QuantType.Q8_0, 4, rows, columns);
        LoraReference.Factors f = LoraReference.Random(6, 4, columns, rows, 0);
        LoraAdapter adapter = LoraReference.ToAdapter(f, 2f);
        float[] all = LoraReference.MergedFloat(dense, f, 2f);
        int rowBytes = q.Length / rows;

        var part = new float[5 * columns];
        LoraMerge.MergeRows(QuantType.Q8_0, q.AsSpan(4 * rowBytes, 5 * rowBytes), 4, adapter, 1f, part);

        Assert.Equal(all.AsSpan(4 * columns, 5 * columns).ToArray(), part);
        Assert.Equal("firstRow", Assert.Throws<ArgumentException>(() => LoraMerge.MergeRows(QuantType.Q8_0, q.AsSpan(0, 5 * rowBytes), 8, adapter, 1f, part)).ParamName);
        Assert.Equal("baseRows", Assert.Throws<ArgumentException>(() => LoraMerge.MergeRows(QuantType.Q8_0, q.AsSpan(0, 5 * rowBytes - 1), 0, adapter, 1f, part)).ParamName);
        Assert.Equal("targetType", Assert.Throws<ArgumentException>(() => LoraMerge.Merge(QuantType.Q8_0, q, LoraReference.ToAdapter(LoraReference.Random(1, 1, 96, rows, 0), 1f), 1f, QuantType.Q4_K, new byte[4096])).ParamName);
    }

    /// <summary>A tiny base model: an adapted Q8_0 matrix, an unadapted Q4_K one, a norm vector; and its adapter.</summary>
    private (string Base, string Adapter, LoraReference.Factors Factors, byte[] Q, float[] Dense) WriteModelAndAdapter(string adaptedName = "blk.0.attn_q.weight")
    {
        (byte[] q, float[] dense) = Quantized(QuantType.Q8_0, 7, 16, 64);
        (byte[] k, _) = Quantized(QuantType.Q4_K, 8, 8, 256);
        float[] norm = TestData.Gaussian(9, 64, 1.0);
        byte[] model = LoraGgufFiles.Write(
        [
            new("general.architecture", GgufValue.FromString("llama")),
            new("general.name", GgufValue.FromString("tiny")),
            new("llama.block_count", GgufValue.FromUInt32(1)),
        ],
        [
            new("blk.0.attn_norm.weight", QuantType.F32, [64], LoraGgufFiles.F32Bytes(norm)),
            new("blk.0.attn_q.weight", QuantType.Q8_0, [64, 16], q),
            new("blk.0.attn_k.weight", QuantType.Q4_K, [256, 8], k),
        ]);
        LoraReference.Factors f = LoraReference.Random(10, 4, 64, 16, 0, sigma: 0.3);
        byte[] adapter = LoraGgufFiles.Write(LoraGgufFiles.AdapterMetadata(alpha: 8), LoraGgufFiles.Pair(adaptedName, f));
        File.WriteAllBytes(PathOf("base.gguf"), model);
        File.WriteAllBytes(PathOf("lora.gguf"), adapter);
        return (PathOf("base.gguf"), PathOf("lora.gguf"), f, q, dense);
    }

    private void AssertMergedModel(string outPath, LoraReference.Factors f, float[] dense, float factor, QuantType target)
    {
        using GgufFile input = GgufFile.Open(PathOf("base.gguf"));
        using GgufFile output = GgufFile.Open(outPath);
        Assert.Equal(input.Tensors.Select(t => t.Name), output.Tensors.Select(t => t.Name));
        Assert.Equal(input.Metadata.Select(m => m.Key), output.Metadata.Select(m => m.Key));
        Assert.All(input.Metadata, m => Assert.True(m.Value.ContentEquals(output.GetValue(m.Key)), m.Key));
        foreach (string unchanged in (string[])["blk.0.attn_norm.weight", "blk.0.attn_k.weight"])
        {
            Assert.Equal(input.GetTensor(unchanged).Type, output.GetTensor(unchanged).Type);
            Assert.Equal(input.GetTensorData(input.GetTensor(unchanged)).ToArray(), output.GetTensorData(output.GetTensor(unchanged)).ToArray());
        }

        GgufTensorInfo merged = output.GetTensor("blk.0.attn_q.weight");
        Assert.Equal(target, merged.Type);
        Assert.Equal([64L, 16L], merged.Dimensions);
        var expected = new byte[Quantizer.GetByteCount(target, 16 * 64)];
        Quantizer.Quantize(target, LoraReference.MergedFloat(dense, f, factor), expected, 64);
        AssertBytes.Equal(expected, output.GetTensorData(merged), target);
    }

    [Fact]
    public void MergeGgufRequantizesAdaptedTensorsAndCopiesTheRest()
    {
        var (basePath, adapterPath, f, _, dense) = WriteModelAndAdapter();
        LoraAdapterSet adapters = LoraAdapterSet.LoadGguf(adapterPath);
        using (GgufFile model = GgufFile.Open(basePath))
        {
            Assert.Equal(1, LoraMerge.MergeGguf(model, adapters, PathOf("out.gguf"), QuantType.Q5_0, scale: 0.5f));
        }

        AssertMergedModel(PathOf("out.gguf"), f, dense, 0.5f * (8f / 4), QuantType.Q5_0); // scale · alpha / r
    }

    [Fact]
    public void MergeLoraCommandWritesTheMergedModel()
    {
        var (basePath, adapterPath, f, _, dense) = WriteModelAndAdapter();
        using var output = new StringWriter();
        using var error = new StringWriter();

        int code = QuantCommandLine.Run(["merge-lora", basePath, adapterPath, PathOf("cli.gguf"), "--type", "q8_0", "--scale", "2", "--threads", "1"], output, error);

        Assert.True(code == QuantCommandLine.ExitSuccess, error.ToString());
        Assert.Contains("1 tensors merged", error.ToString(), StringComparison.Ordinal);
        AssertMergedModel(PathOf("cli.gguf"), f, dense, 2f * (8f / 4), QuantType.Q8_0);
        Assert.False(File.Exists(PathOf("cli.gguf.tmp")));
    }

    [Theory]
    [InlineData("unknown type")]
    [InlineData("missing file")]
    [InlineData("foreign tensor")]
    [InlineData("not an adapter")]
    public void MergeLoraCommandErrorsAreOneLineWithThePrefix(string problem)
    {
        var (basePath, adapterPath, _, _, _) = WriteModelAndAdapter(problem == "foreign tensor" ? "blk.7.attn_q.weight" : "blk.0.attn_q.weight");
        string type = problem == "unknown type" ? "q9_9" : "q8_0";
        string adapterArg = problem switch
        {
            "missing file" => PathOf("nope.gguf"),
            "not an adapter" => basePath,
            _ => adapterPath,
        };
        using var output = new StringWriter();
        using var error = new StringWriter();

        int code = QuantCommandLine.Run(["merge-lora", basePath, adapterArg, PathOf("bad.gguf"), "--type", type], output, error);

        Assert.NotEqual(QuantCommandLine.ExitSuccess, code);
        Assert.StartsWith("quant: error: ", error.ToString(), StringComparison.Ordinal);
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
        Assert.False(File.Exists(PathOf("bad.gguf")));
        Assert.False(File.Exists(PathOf("bad.gguf.tmp")));
    }

    [Fact]
    public void MergeGgufRejectsAShapeMismatch()
    {
        var (basePath, _, _, _, _) = WriteModelAndAdapter();
        var wrong = new LoraAdapterSet([new("blk.0.attn_q.weight", LoraReference.ToAdapter(LoraReference.Random(1, 2, 64, 8, 0), 1f))]);
        using GgufFile model = GgufFile.Open(basePath);
        Assert.Throws<InvalidDataException>(() => LoraMerge.MergeGguf(model, wrong, PathOf("x.gguf"), QuantType.Q8_0));
        Assert.False(File.Exists(PathOf("x.gguf")));
    }
}
