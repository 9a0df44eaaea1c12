using Quantization.Lora;
using Quantization.Schemes;
using Quantization.Tests.Support;

namespace Quantization.Tests.Lora;

/// <summary><see cref="LoraMatrix"/> against a double-precision W·x + Σ s·B·(A·x) over the dequantized base.</summary>
public sealed class LoraMatrixTests
{
    private const int Rows = 48;
    private const int Columns = 512;

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string baseKind in (string[])["q4_K", "q8_0", "int4-group"])
        {
            foreach (int rank in (int[])[1, 8, 16])
            {
                data.Add(baseKind, rank, 1);
                data.Add(baseKind, rank, 3);
            }
        }

        return data;
    }

    /// <summary>The base as a matrix and its dequantized floats (through the library's dequantizers, not the product).</summary>
    private static (IWeightMatrix Matrix, float[] Dense) MakeBase(string kind, ulong seed)
    {
        float[] w = TestData.Gaussian(seed, Rows * Columns, 0.5);
        var dense = new float[w.Length];
        if (kind == "int4-group")
        {
            QuantScheme scheme = QuantScheme.Group(4, 64);
            var bytes = new byte[SchemeQuantizer.GetByteCount(scheme, Rows, Columns)];
            SchemeQuantizer.Quantize(scheme, w, Rows, Columns, bytes);
            SchemeQuantizer.Dequantize(scheme, bytes, Rows, Columns, dense);
            return (new SchemeMatrix(scheme, bytes, Rows, Columns), dense);
        }

        QuantType type = kind == "q4_K" ? QuantType.Q4_K : QuantType.Q8_0;
        var q = new byte[Quantizer.GetByteCount(type, w.Length)];
        Quantizer.Quantize(type, w, q, Columns);
        Quantizer.Dequantize(type, q, dense);
        return (new QuantizedMatrix(type, q, Rows, Columns), dense);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedProductMatchesTheNaiveReference(string baseKind, int rank, int batch)
    {
        (IWeightMatrix baseMatrix, float[] dense) = MakeBase(baseKind, (ulong)rank * 7 + 1);
        LoraReference.Factors first = LoraReference.Random(11 + (ulong)rank, rank, Columns, Rows, 0, sigma: 0.3);
        LoraReference.Factors second = LoraReference.Random(29, 3, Columns, Rows, 0, sigma: 0.3);
        const float firstScaling = 2f, secondScaling = 0.5f; // as alpha / r would give
        const float firstScale = 0.75f, secondScale = -1.25f;
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(first, firstScaling), LoraReference.ToAdapter(second, secondScaling));
        matrix.SetScale(0, firstScale);
        matrix.SetScale(1, secondScale);
        LoraReference.Factors[] expectedFactors =
        [
            first with { Factor = (double)firstScale * firstScaling },
            second with { Factor = (double)secondScale * secondScaling },
        ];

        float[] x = TestData.Gaussian(100 + (ulong)batch, batch * Columns, 1.0);
        var y = new float[batch * Rows];
        var baseOnly = new float[batch * Rows];
        matrix.MatMul(x, y, batch, maxDegreeOfParallelism: 2);
        baseMatrix.MatMul(x, baseOnly, batch, maxDegreeOfParallelism: 1);

        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> xRow = x.AsSpan(b * Columns, Columns);
            double[] delta = LoraReference.DeltaTimes(expectedFactors, xRow, Rows);
            double[] full = LoraReference.DenseTimes(dense, Rows, Columns, xRow);
            double deltaNorm = Math.Sqrt(delta.Sum(v => v * v));
            double fullNorm = 0, fullError = 0;
            for (int o = 0; o < Rows; o++)
            {
                // The adapters' part alone is float32 dots against a double reference: tight.
                double adapterPart = (double)y[b * Rows + o] - baseOnly[b * Rows + o];
                Assert.True(Math.Abs(adapterPart - delta[o]) <= 1e-4 * deltaNorm + 1e-5,
                            $"{baseKind} r={rank} batch row {b} output {o}: adapter part {adapterPart}, reference {delta[o]}");
                double expected = full[o] + delta[o];
                fullNorm += expected * expected;
                fullError += (y[b * Rows + o] - expected) * (y[b * Rows + o] - expected);
            }

            // The whole result: the base's product quantizes the activations, so a few percent of the norm at most.
            Assert.True(Math.Sqrt(fullError) <= 0.03 * Math.Sqrt(fullNorm), $"{baseKind} r={rank}: error {Math.Sqrt(fullError)} of norm {Math.Sqrt(fullNorm)}");
            Assert.True(deltaNorm > 0.1 * Math.Sqrt(fullNorm), "the adapters must change the result measurably");
        }
    }

    [Fact]
    public void MatVecIsMatMulOfOneRowAndRepeatedCallsAgree()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q8_0", 5);
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(3, 8, Columns, Rows, 0), 1f));
        float[] x = TestData.Gaussian(9, 2 * Columns, 1.0);
        var batched = new float[2 * Rows];
        matrix.MatMul(x, batched, 2);
        for (int b = 0; b < 2; b++)
        {
            var single = new float[Rows];
            matrix.MatVec(x.AsSpan(b * Columns, Columns), single);
            Assert.Equal(batched.AsSpan(b * Rows, Rows).ToArray(), single);
        }
    }

    [Fact]
    public void ThreadCountDoesNotChangeABatchResult()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q4_K", 13);
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(14, 16, Columns, Rows, 0), 1f),
                                    LoraReference.ToAdapter(LoraReference.Random(15, 2, Columns, Rows, 0), 3f));
        const int batch = 13;
        float[] x = TestData.Gaussian(16, batch * Columns, 1.0);
        var serial = new float[batch * Rows];
        var parallel = new float[batch * Rows];
        matrix.MatMul(x, serial, batch, maxDegreeOfParallelism: 1);
        matrix.MatMul(x, parallel, batch, maxDegreeOfParallelism: 3);
        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void SteadyStateMatVecAllocatesNothing()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q4_K", 17);
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(18, 16, Columns, Rows, 0), 1f));
        float[] x = TestData.Gaussian(19, Columns, 1.0);
        var y = new float[Rows];
        for (int i = 0; i < 3; i++)
        {
            matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ScaleZeroGivesTheBaseAndScalesAreLinear()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q4_K", 6);
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(4, 4, Columns, Rows, 0), 1f));
        float[] x = TestData.Gaussian(10, Columns, 1.0);
        var expectedBase = new float[Rows];
        baseMatrix.MatVec(x, expectedBase);

        matrix.SetScale(0, 0f);
        var y0 = new float[Rows];
        matrix.MatVec(x, y0);
        Assert.Equal(expectedBase, y0);

        matrix.SetScale(0, 1f);
        var y1 = new float[Rows];
        matrix.MatVec(x, y1);
        matrix.SetScale(0, 2f);
        var y2 = new float[Rows];
        matrix.MatVec(x, y2);
        Assert.Equal(2f, matrix.GetScale(0));
        for (int o = 0; o < Rows; o++)
        {
            Assert.Equal(2.0 * (y1[o] - expectedBase[o]), y2[o] - expectedBase[o], 1e-4);
        }
    }

    [Fact]
    public void ConcurrentCallsGiveTheSingleThreadedResults()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q8_0", 8);
        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(5, 16, Columns, Rows, 0), 0.5f));
        float[][] inputs = [.. Enumerable.Range(0, 8).Select(i => TestData.Gaussian(200 + (ulong)i, Columns, 1.0))];
        float[][] expected = [.. inputs.Select(x => { var y = new float[Rows]; matrix.MatVec(x, y, 1); return y; })];
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var y = new float[Rows];
            matrix.MatVec(inputs[i % 8], y, 1);
            Assert.Equal(expected[i % 8], y);
        });
    }

    [Fact]
    public void BadShapesAndArgumentsAreArgumentExceptions()
    {
        (IWeightMatrix baseMatrix, _) = MakeBase("q8_0", 12);
        LoraAdapter wrongInputs = LoraReference.ToAdapter(LoraReference.Random(1, 2, Columns / 2, Rows, 0), 1f);
        LoraAdapter wrongOutputs = LoraReference.ToAdapter(LoraReference.Random(1, 2, Columns, Rows + 1, 0), 1f);
        Assert.Equal("adapters", Assert.Throws<ArgumentException>(() => new LoraMatrix(baseMatrix, wrongInputs)).ParamName);
        Assert.Equal("adapters", Assert.Throws<ArgumentException>(() => new LoraMatrix(baseMatrix, wrongOutputs)).ParamName);

        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => new LoraAdapter([], [], 0, Columns, Rows)).ParamName);
        Assert.Equal("a", Assert.Throws<ArgumentException>(() => new LoraAdapter(new float[7], new float[Rows * 2], 2, Columns, Rows)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => new LoraAdapter(new float[2 * Columns], new float[5], 2, Columns, Rows)).ParamName);
        Assert.Equal("scaling", Assert.Throws<ArgumentException>(() => new LoraAdapter(new float[Columns], new float[Rows], 1, Columns, Rows, float.NaN)).ParamName);

        var matrix = new LoraMatrix(baseMatrix, LoraReference.ToAdapter(LoraReference.Random(1, 2, Columns, Rows, 0), 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.SetScale(1, 1f));
        Assert.Equal("scale", Assert.Throws<ArgumentException>(() => matrix.SetScale(0, float.PositiveInfinity)).ParamName);
        Assert.ThrowsAny<ArgumentException>(() => matrix.MatVec(new float[Columns - 1], new float[Rows]));
        Assert.ThrowsAny<ArgumentException>(() => matrix.MatVec(new float[Columns], new float[Rows - 1]));
    }

    [Fact]
    public void ScalingRulesAreAlphaOverRankOrOverItsSquareRoot()
    {
        Assert.Equal(2f, LoraAdapter.GetScaling(32, 16));
        Assert.Equal(8f, LoraAdapter.GetScaling(32, 16, useRsLora: true));
        Assert.Equal(0.5f, LoraAdapter.GetGgufScaling(4, 8));
        Assert.Equal(1f, LoraAdapter.GetGgufScaling(0, 8)); // no alpha: the user's scale alone
        Assert.Throws<ArgumentOutOfRangeException>(() => LoraAdapter.GetScaling(16, 0));
    }

    [Fact]
    public void AdapterKeepsBAsGivenAndApplyWrapsOnlyAdaptedWeights()
    {
        float[] a = [1, 2, 3, 4, 5, 6]; // r = 2, in = 3
        float[] b = [10, 20, 30, 40]; // out = 2, r = 2
        var adapter = new LoraAdapter(a, b, 2, 3, 2);
        Assert.Equal(20f, adapter.GetB(0, 1));
        Assert.Equal(30f, adapter.GetB(1, 0));
        Assert.Equal(a, adapter.A.ToArray());

        // ΔW = B·A = [[10·1+20·4, 10·2+20·5, 10·3+20·6], [30·1+40·4, ...]] = [[90, 120, 150], [190, 260, 330]].
        var zero = new QuantizedMatrix(QuantType.F32, new byte[2 * 3 * 4], 2, 3);
        var set = new LoraAdapterSet([new("w", adapter)]);
        IWeightMatrix applied = set.Apply("w", zero, scale: 0.5f);
        var y = new float[2];
        applied.MatVec([1, 0, 1], y);
        Assert.Equal([(90 + 150) * 0.5f, (190 + 330) * 0.5f], y);
        Assert.Same(zero, set.Apply("other", zero));
    }
}
