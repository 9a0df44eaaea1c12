using System.Buffers.Binary;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Ternary;
using Quantization.Tests.Ternary;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// I2_S × I8_S (bitnet.cpp's ternary matrix product): I8_S quantizes exactly as
/// <see cref="BitNetQuantizer.QuantizeActivations"/>; every path's integer Σ code·q equals a plain loop over the bytes
/// (hostile bytes included); MatVec / MatMul / <see cref="QuantizedMatrix"/> against a double reference built from the
/// dequantized weights and activations, and the trailer handled in every length check.
/// </summary>
public sealed class I2SDotTests
{
    private const int Trailer = 32;

    private static readonly DotEntry s_dot = DotRegistry.TryGet(QuantType.I2_S)!;

    // ---------------------------------------------------------------- I8_S activations

    public static TheoryData<int> ActivationLengths => [1, 31, 32, 33, 128, 1000, 4096];

    [Theory]
    [MemberData(nameof(ActivationLengths))]
    public void I8SQuantizeEqualsQuantizeActivations(int n)
    {
        for (ulong seed = 0; seed < 6; seed++)
        {
            float[] x = (seed % 3) switch
            {
                0 => TestData.Gaussian(seed, n, Math.Pow(10, (int)seed - 3)),
                1 => TestData.HeavyTailed(seed, n),
                _ => TestData.Adversarial(seed, (n + 31) / 32 * 32)[..n],
            };
            if (seed == 5)
            {
                x = [.. x.Select(v => v * 1e-7f)]; // below the 1e-5 floor of max|x|
            }

            var bytes = new byte[Quantizer.GetByteCount(QuantType.I8_S, n)];
            Assert.Equal(n + Trailer, bytes.Length);
            bytes.AsSpan().Fill(0xEE);
            Quantizer.Quantize(QuantType.I8_S, x, bytes, n);

            var codes = new sbyte[n];
            var scales = new float[1];
            var sums = new int[1];
            BitNetQuantizer.QuantizeActivations(x, n, codes, scales, sums);
            Assert.Equal(codes, bytes[..n].Select(b => (sbyte)b).ToArray());
            Assert.Equal(BitConverter.SingleToInt32Bits(scales[0]), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(n)));
            Assert.Equal(sums[0], BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(n + 4)));
            Assert.All(bytes[(n + 8)..], b => Assert.Equal(0, b));

            // And both equal quantize_row_i8_s written out plainly.
            (sbyte[] q, float s, int sum) = BitNetQuantizerTests.ActivationsPlain(x);
            Assert.Equal(q, codes);
            Assert.Equal(s, scales[0]);
            Assert.Equal(sum, sums[0]);

            // Dequantized: q / s.
            var y = new float[n];
            Quantizer.Dequantize(QuantType.I8_S, bytes, y);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(q[i] / s, y[i]);
            }
        }
    }

    [Fact]
    public void I8SIsAnActivationFormatWithATrailer()
    {
        QuantFormat f = QuantFormat.Get(QuantType.I8_S);
        Assert.Equal("i8_s", f.Name);
        Assert.Equal((1, 1, Trailer), (f.BlockSize, f.BytesPerBlock, f.TrailerBytes));
        Assert.False(f.IsGgmlType);
        Assert.True(f.CanQuantize && f.CanDequantize);
        Assert.True(QuantizedMath.HasIntegerDot(QuantType.I2_S));
        Assert.False(QuantizedMath.HasIntegerDot(QuantType.I8_S));
        Assert.Equal(QuantType.I8_S, s_dot.ActivationType);
    }

    // ---------------------------------------------------------------- integer sums per path

    /// <summary>Σ code·q straight from the layout: element e of block b is byte 32b + e % 32, bits 7:6 down to 1:0 by e / 32.</summary>
    private static int PlainSum(byte[] w, byte[] a, int n)
    {
        int sum = 0;
        for (int i = 0; i < n; i++)
        {
            int block = i / 128, e = i % 128;
            int code = (w[32 * block + e % 32] >> (6 - 2 * (e / 32))) & 3;
            sum += code * (sbyte)a[i];
        }

        return sum;
    }

    private static IEnumerable<DotPath> SupportedPaths() => Enum.GetValues<DotPath>().Where(I2_SDot.IsSupported);

    [Fact]
    public void EveryPathsIntegerSumEqualsThePlainSumOnHostileBytes()
    {
        Assert.Contains(I2_SDot.BestPath, SupportedPaths());
        var random = new Random(11);
        // 0..41 blocks: across every path's int16 flush (4, 8 or 16 blocks) and its remainder.
        foreach (int blocks in Enumerable.Range(0, 42))
        {
            int n = 128 * blocks;
            var w = new byte[32 * blocks];
            var a = new byte[n + Trailer];
            random.NextBytes(w); // code 3 included
            random.NextBytes(a);
            if (blocks % 3 == 0)
            {
                w.AsSpan().Fill(0xFF); // every code 3
                a.AsSpan(0, n).Fill(0x80); // every q −128: the widest products
            }

            int expected = PlainSum(w, a, n);
            foreach (DotPath path in SupportedPaths())
            {
                Assert.True(expected == I2_SDot.IntegerSum(path, w, a, n), $"{path} blocks {blocks}");
            }
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(2560)]
    [InlineData(8192)]
    public void EveryPathsDotEqualsTheReferenceToTheBit(int n)
    {
        (byte[] w, _) = TernaryWeights(1, n, 3);
        byte[] a = Activations(s_dot, TestData.TransformerLike(4, n));
        float reference = I2_SDot.DotReference(w, a, n);
        int plain = PlainSum(w, a, n) - BinaryPrimitives.ReadInt32LittleEndian(a.AsSpan(n + 4));
        Assert.Equal((float)plain / BitConverter.ToSingle(a, n), reference);
        foreach (DotPath path in SupportedPaths())
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(reference), BitConverter.SingleToInt32Bits(I2_SDot.DotOn(path, w, a, n)));
        }

        Assert.Equal(BitConverter.SingleToInt32Bits(reference), BitConverter.SingleToInt32Bits(s_dot.Dot(w, a, n)));
    }

    [Fact]
    public void EveryPathsRowLoopEqualsTheReferencePerRowToTheBit()
    {
        const int rows = 7, n = 1152;
        (byte[] w, _) = TernaryWeights(rows, n, 5);
        byte[] a = Activations(s_dot, TestData.Gaussian(6, n, 1));
        int rowBytes = n / 4;
        foreach (DotPath path in SupportedPaths())
        {
            var results = new float[rows];
            I2_SDot.DotRowsOn(path, w.AsSpan(0, rows * rowBytes), rowBytes, a, n, results);
            for (int r = 0; r < rows; r++)
            {
                float single = I2_SDot.DotReference(w.AsSpan(r * rowBytes, rowBytes), a, n);
                Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]), $"{path} row {r}: {results[r]} vs {single}");
            }
        }

        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => I2_SDot.DotRowsOn(DotPath.Scalar, w.AsSpan(0, rows * rowBytes - 1), rowBytes, a, n, new float[rows])).ParamName);
    }

    [Fact]
    public void ShortSpansAreRejected()
    {
        var w = new byte[32];
        var a = new byte[128 + Trailer];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => s_dot.Dot(w.AsSpan(1), a, 128)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => s_dot.Dot(w, a.AsSpan(1), 128)).ParamName); // trailer cut
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => s_dot.Dot(w, a, 64)).ParamName);
    }

    // ---------------------------------------------------------------- MatVec / MatMul

    /// <summary>Trained-looking weights through BitNet's absmean rule to I2_S, and their dequantized values.</summary>
    private static (byte[] Packed, float[] Values) TernaryWeights(int rows, int columns, ulong seed)
    {
        float[] wf = TestData.Gaussian(seed, rows * columns, 0.02);
        var packed = new byte[Quantizer.GetByteCount(QuantType.I2_S, wf.Length)];
        BitNetQuantizer.QuantizeAbsMeanToI2S(wf, packed);
        return (packed, DotTestSupport.Dequantize(QuantType.I2_S, packed));
    }

    [Fact]
    public void MatMulMatchesTheReferencesOnOddShapes()
    {
        foreach (int columns in new[] { 128, 384, 1280 })
        {
            foreach (int rows in new[] { 1, 5, 33, 70 })
            {
                (byte[] w, float[] wd) = TernaryWeights(rows, columns, (ulong)(rows * 7 + columns));
                var matrix = new QuantizedMatrix(QuantType.I2_S, w, rows, columns);
                foreach (int batch in Enumerable.Range(1, 9))
                {
                    float[] x = TestData.TransformerLike((ulong)(batch * 31 + rows), batch * columns);
                    float[]? first = null;
                    foreach (int threads in new[] { 1, 3, -1 })
                    {
                        var y = new float[batch * rows + 1];
                        y[^1] = 42; // beyond the result: untouched
                        QuantizedMath.MatMul(QuantType.I2_S, w, rows, columns, x, y, batch, threads);
                        Assert.Equal(42, y[^1]);
                        var ym = new float[batch * rows];
                        matrix.MatMul(x, ym, batch, threads);
                        first ??= y[..^1];
                        AssertBits(first, y[..^1], $"threads {threads}");
                        AssertBits(first, ym, $"matrix threads {threads}");
                    }

                    var yf = new float[batch * rows];
                    QuantizedMath.MatMulAccurate(QuantType.I2_S, w, rows, columns, x, yf, batch, 2);
                    for (int b = 0; b < batch; b++)
                    {
                        float[] xb = x.AsSpan(b * columns, columns).ToArray();
                        byte[] a = Activations(s_dot, xb);
                        float[] ad = DotTestSupport.Dequantize(QuantType.I8_S, a);
                        float s = BitConverter.ToSingle(a, columns);
                        for (int r = 0; r < rows; r++)
                        {
                            double exactQ = 0, absQ = 0, exactF = 0, absF = 0, absW = 0;
                            for (int c = 0; c < columns; c++)
                            {
                                double wv = wd[r * columns + c];
                                exactQ += wv * ad[c];
                                absQ += Math.Abs(wv * ad[c]);
                                exactF += wv * xb[c];
                                absF += Math.Abs(wv * xb[c]);
                                absW += Math.Abs(wv);
                            }

                            float yq = first![b * rows + r];
                            string where = $"{rows}x{columns} batch {b}/{batch} row {r}";

                            // Integer path vs dequantized weights × dequantized activations: the integer sum is exact, and
                            // each side rounds a few times (q / s per term here; the division, the scale and the
                            // conversion there).
                            Assert.True(Math.Abs(yq - exactQ) <= Math.Pow(2, -22) * (absQ + Math.Abs(exactQ)) + 1e-30,
                                        $"integer path {where}: {yq} vs {exactQ}");

                            // Integer path vs float activations: each activation is off by at most half a step 1/s (and
                            // a rounding of x·s), so the row by at most Σ|w|·0.5/s, slightly widened.
                            Assert.True(Math.Abs(yq - exactF) <= 0.5 * 1.001 / s * absW + Math.Pow(2, -22) * absF + 1e-30,
                                        $"integer path vs float x {where}: {yq} vs {exactF}");

                            // Float path: dequantized weights × float x, float summation over `columns` terms.
                            Assert.True(Math.Abs(yf[b * rows + r] - exactF) <= (columns + 2) * Math.Pow(2, -23) * absF + 1e-30,
                                        $"float path {where}: {yf[b * rows + r]} vs {exactF}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void TheResultIsBitNetsFinishOfTheReferenceDot()
    {
        const int rows = 3, columns = 256;
        (byte[] w, _) = TernaryWeights(rows, columns, 8);
        float scale = BitConverter.ToSingle(w, rows * columns / 4);
        float[] x = TestData.Gaussian(9, columns, 2);
        byte[] a = Activations(s_dot, x);
        var y = new float[rows];
        QuantizedMath.MatVec(QuantType.I2_S, w, rows, columns, x, y);
        for (int r = 0; r < rows; r++)
        {
            float dot = I2_SDot.DotReference(w.AsSpan(r * columns / 4, columns / 4), a, columns);
            Assert.Equal(dot * scale, y[r]); // (Σ code·q − Σq) / s · scale, in bitnet.cpp's order
        }
    }

    [Fact]
    public void WrongLengthsAreArgumentExceptionsNamingTheTrailer()
    {
        const int rows = 3, columns = 256;
        (byte[] w, _) = TernaryWeights(rows, columns, 1);
        Assert.Equal(rows * columns / 4 + Trailer, w.Length);
        float[] x = TestData.Gaussian(2, columns, 1);
        var y = new float[rows];
        Array.Fill(y, 7f);

        void Check(string param, Action call, string? message = null)
        {
            ArgumentException e = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal(param, e.ParamName);
            if (message is not null)
            {
                Assert.Contains(message, e.Message);
            }
        }

        string expected = $"take {rows * columns / 4 + Trailer} ({rows * columns / 4} and the {Trailer}-byte tensor trailer)";
        Check("weights", () => QuantizedMath.MatVec(QuantType.I2_S, w.AsSpan(0, rows * columns / 4), rows, columns, x, y), expected); // no trailer
        Check("weights", () => QuantizedMath.MatVec(QuantType.I2_S, w.AsSpan(1), rows, columns, x, y), expected);
        Check("weights", () => QuantizedMath.MatVec(QuantType.I2_S, [.. w, 0], rows, columns, x, y), expected);
        Check("weights", () => QuantizedMath.MatVecAccurate(QuantType.I2_S, w.AsSpan(0, rows * columns / 4), rows, columns, x, y), expected);
        Check("weights", () => QuantizedMath.MatVec(QuantType.I2_S, w, rows - 1, columns, x, y));
        Check("weights", () => new QuantizedMatrix(QuantType.I2_S, w.AsMemory(0, rows * columns / 4), rows, columns), expected);
        Check("columns", () => QuantizedMath.MatVec(QuantType.I2_S, w, rows, 64, x.AsSpan(0, 64), y));
        Check("x", () => QuantizedMath.MatVec(QuantType.I2_S, w, rows, columns, x.AsSpan(1), y));
        Check("y", () => QuantizedMath.MatVec(QuantType.I2_S, w, rows, columns, x, y.AsSpan(1)));
        Assert.All(y, v => Assert.Equal(7f, v));

        // Zero rows are the trailer alone.
        QuantizedMath.MatVec(QuantType.I2_S, new byte[Trailer], 0, columns, x, y);
        Check("weights", () => QuantizedMath.MatVec(QuantType.I2_S, default, 0, columns, x, y));
        Assert.All(y, v => Assert.Equal(7f, v));
    }
}
