using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Tests.Formats;
using TestData = Quantization.Tests.Support.TestData;
using static Quantization.Tests.Dot.DotTestSupport;

namespace Quantization.Tests.Dot;

/// <summary>
/// The NF4 / FP4 integer dot (<see cref="FourBitDot{TCode}"/>): the int16 code tables against the published code books,
/// the integer sums of every instruction-set path against a sum computed here from those tables, the float results
/// against the reference, against dequantize-then-dot and against float activations within stated bounds, and the
/// matrix entry points on odd shapes. Expected values never come from the code under test.
/// </summary>
public sealed class FourBitDotTests
{
    public static TheoryData<QuantType> Types() => new() { QuantType.NF4, QuantType.FP4 };

    private static readonly DotPath[] s_paths = Enum.GetValues<DotPath>();

    private static Paths PathsOf(QuantType type) => type == QuantType.NF4 ? Of<Nf4Code>() : Of<Fp4Code>();

    private static Paths Of<TCode>() where TCode : IFourBitCode =>
        new(FourBitDot<TCode>.IsSupported, FourBitDot<TCode>.IntegerSums, FourBitDot<TCode>.DotOn, FourBitDot<TCode>.DotRowsOn, HasMin: false);

    private static short[] LibraryTable(QuantType type) =>
        type == QuantType.NF4 ? FourBitDotTable<Nf4Code>.Values : FourBitDotTable<Fp4Code>.Values;

    /// <summary>round(code·2^14), half away from zero, from the published code values (double arithmetic).</summary>
    private static int[] ExpectedTable(QuantType type) =>
        [.. Nf4Tests.Expected(type).Select(v => (int)Math.Round((double)v * 16384, MidpointRounding.AwayFromZero))];

    private static IEnumerable<DotPath> Supported(Paths paths) => s_paths.Where(p => paths.IsSupported(p));

    [Theory]
    [MemberData(nameof(Types))]
    public void TheInt16TableIsTheCodeBookTimes2Pow14Rounded(QuantType type)
    {
        int[] expected = ExpectedTable(type);
        short[] actual = LibraryTable(type);
        float[] codes = Nf4Tests.Expected(type);
        Assert.Equal(16, actual.Length);
        for (int c = 0; c < 16; c++)
        {
            Assert.True(expected[c] == actual[c], $"{type} code {c}: T = {actual[c]}, expected {expected[c]}");
            Assert.InRange(Math.Abs(actual[c]), 0, 16384);
            Assert.True(Math.Abs(actual[c] / 16384.0 - codes[c]) <= Math.Pow(2, -15), $"{type} code {c}: {actual[c]} is not within 2^-15 of {codes[c]}");
        }

        // A few values worked out by hand: ±1 → ±16384, 0 → 0; NF4 0.0795803 → 1303.85 → 1304; FP4 0.0625/12 → 85.33 → 85.
        short[] spot = actual;
        if (type == QuantType.NF4)
        {
            Assert.Equal([-16384, 0, 1304, 16384], new int[] { spot[0], spot[7], spot[8], spot[15] });
        }
        else
        {
            Assert.Equal([0, 85, 10923, 16384, 0, -85, -16384], new int[] { spot[0], spot[1], spot[2], spot[3], spot[8], spot[9], spot[11] });
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void HighNibbleIsTheEvenElementOnEveryPath(QuantType type)
    {
        // Element 0 = +1 (high nibble of byte 0), element 1 = −1, the rest 0; absmax 2; activations d = 1, q0 = 3, q1 = 1.
        // 2·(3·1 + 1·(−1)) = 4 exactly; the swapped order would give −4.
        int plus = type == QuantType.NF4 ? 15 : 3, minus = type == QuantType.NF4 ? 0 : 11, zero = type == QuantType.NF4 ? 7 : 0;
        byte[] w = Nf4Tests.Block(2f, j => j == 0 ? plus : j == 1 ? minus : zero);
        var a = new byte[68];
        a[0] = 0x00; a[1] = 0x3C; // FP16 1.0
        a[34] = 0x00; a[35] = 0x3C;
        a[2] = 3;
        a[3] = 1;
        Paths paths = PathsOf(type);
        foreach (DotPath path in Supported(paths))
        {
            Assert.Equal(4f, paths.DotOn(path, w, a, 64));
        }

        Assert.Equal(4f, DotRegistry.TryGet(type)!.DotReference(w, a, 64));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void IntegerSumsOfEveryPathEqualTheSumFromThePublishedTable(QuantType type)
    {
        const int blocks = 67;
        var rng = new Random(4321 + (int)type);
        var w = new byte[blocks * 36];
        rng.NextBytes(w); // every code byte; absmax bytes may be NaN (integers do not care)
        var a = new byte[blocks * 2 * 34];
        rng.NextBytes(a);
        byte one = (byte)(type == QuantType.NF4 ? 0xFF : 0x33), minusOne = (byte)(type == QuantType.NF4 ? 0x00 : 0xBB);
        for (int h = 0; h < 2 * blocks; h++)
        {
            for (int j = 0; j < 32; j++)
            {
                a[h * 34 + 2 + j] = (byte)(sbyte)rng.Next(-127, 128); // Q8_0 codes never −128
            }

            if (h % 5 == 0)
            {
                // The largest sums: every |T| = 16384 times ±127 of the same sign, 32·16384·127 = 66584576.
                bool negative = h % 10 == 0;
                for (int j = 0; j < 16; j++)
                {
                    w[h / 2 * 36 + 4 + h % 2 * 16 + j] = h % 4 == 0 ? one : minusOne;
                }

                for (int j = 0; j < 32; j++)
                {
                    a[h * 34 + 2 + j] = (byte)(sbyte)(negative ? -127 : 127);
                }
            }
        }

        int[] table = ExpectedTable(type);
        var expected = new int[2 * blocks];
        for (int h = 0; h < 2 * blocks; h++)
        {
            long sum = 0;
            for (int j = 0; j < 32; j++)
            {
                byte b = w[h / 2 * 36 + 4 + h % 2 * 16 + j / 2];
                int code = j % 2 == 0 ? b >> 4 : b & 0x0F; // element 2i is the high nibble
                sum += (long)table[code] * (sbyte)a[h * 34 + 2 + j];
            }

            expected[h] = checked((int)sum);
        }

        Assert.Contains(66584576, expected.Select(Math.Abs));
        Paths paths = PathsOf(type);
        int vectorPaths = 0;
        foreach (DotPath path in Supported(paths))
        {
            var actual = new int[2 * blocks];
            paths.IntegerSums(path, w, a, blocks * 64, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{type} {path}: integer sums differ at 32-value block {expected.AsSpan().CommonPrefixLength(actual)}");
            vectorPaths += path == DotPath.Scalar ? 0 : 1;
        }

        Assert.True(vectorPaths > 0 || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, "no vector path ran");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryPathAgreesWithTheReferenceAndItsRowLoopToTheBit(QuantType type)
    {
        Paths paths = PathsOf(type);
        DotEntry dot = DotRegistry.TryGet(type)!;
        foreach (int n in new[] { 64, 128, 192, 4096, 8192 + 3 * 64 }) // the last one takes pooled scratch
        {
            const int rows = 5;
            int rowBytes = n / 64 * 36;
            byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)(n + (int)type), rows * n), n);
            float[] wd = DotTestSupport.Dequantize(type, w);
            byte[] a = Activations(dot, TestData.Gaussian((ulong)(n * 3 + 1), n, 1.5));
            float[] ad = DotTestSupport.Dequantize(QuantType.Q8_0, a);
            foreach (DotPath path in Supported(paths))
            {
                var results = new float[rows];
                paths.DotRowsOn(path, w, rowBytes, a, n, results);
                for (int r = 0; r < rows; r++)
                {
                    ReadOnlySpan<byte> row = w.AsSpan(r * rowBytes, rowBytes);
                    float single = paths.DotOn(path, row, a, n);
                    Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]), $"{type} {path} n={n} row {r}: {results[r]} vs {single}");
                    float reference = dot.DotReference(row, a, n);
                    double bound = SummationBound(type, row, wd, r * n, a, ad, n) + Float(n) * CodeBound(row, ad, n);
                    Assert.True(Math.Abs(single - (double)reference) <= bound, $"{type} {path} n={n} row {r}: {single} vs reference {reference}, bound {bound:E3}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void DotMatchesDequantizeThenDotWithinTheCodeRoundingAndTheActivationQuantization(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        const int n = 1024;
        for (ulong seed = 1; seed <= 4; seed++)
        {
            float[] wf = seed == 4 ? TestData.Uniform(seed, n, -0.5, 2.0) : TestData.TransformerLike(seed, n);
            float[] x = TestData.HeavyTailed(seed + 100, n);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            float[] wd = DotTestSupport.Dequantize(type, w);
            byte[] a = Activations(dot, x);
            float[] ad = DotTestSupport.Dequantize(QuantType.Q8_0, a);
            double withQuantized = 0, withFloat = 0, activationBound = 0;
            for (int j = 0; j < n; j++)
            {
                withQuantized += (double)wd[j] * ad[j];
                withFloat += (double)wd[j] * x[j];
            }

            // Q8_0: d = amax/127, q = round(x/d), stored d rounded to FP16: |a − x| ≤ d/2 + 127·2^−11·d < 0.57·d.
            for (int b = 0; b < n / 32; b++)
            {
                double amax = 0;
                for (int j = 0; j < 32; j++)
                {
                    amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
                }

                for (int j = 0; j < 32; j++)
                {
                    activationBound += Math.Abs(wd[b * 32 + j]) * 0.57 * amax / 127;
                }
            }

            // Codes within 2^−15·absmax: the integer path's only error beyond the activations' quantization.
            double codeBound = CodeBound(w, ad, n);
            double bound = codeBound + SummationBound(type, w, wd, 0, a, ad, n) + Float(n) * codeBound;
            float fast = dot.Dot(w, a, n), reference = dot.DotReference(w, a, n);
            Assert.True(Math.Abs(fast - withQuantized) <= bound, $"{type} seed {seed}: {fast} vs {withQuantized}, bound {bound:E3}");
            Assert.True(Math.Abs(reference - withQuantized) <= bound, $"{type} seed {seed}: reference {reference} vs {withQuantized}, bound {bound:E3}");
            Assert.True(Math.Abs(fast - withFloat) <= bound + activationBound, $"{type} seed {seed}: {fast} vs float activations {withFloat}, bound {bound + activationBound:E3}");

            // The code rounding is far below the activation quantization, which dominates the error.
            Assert.True(codeBound < activationBound / 20, $"{type} seed {seed}: code bound {codeBound:E3}, activation bound {activationBound:E3}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatVecAndMatMulMatchAStraightforwardReferenceOnOddShapes(QuantType type)
    {
        Assert.True(QuantizedMath.HasIntegerDot(type));
        DotEntry dot = DotRegistry.TryGet(type)!;
        int[] table = ExpectedTable(type);
        foreach (int columns in new[] { 64, 192 })
        {
            foreach (int rows in new[] { 1, 3, 33 })
            {
                byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)(rows * 11 + columns), rows * columns), columns);
                float[] wd = DotTestSupport.Dequantize(type, w);
                int rowBytes = columns / 64 * 36;
                var matrix = new QuantizedMatrix(type, w, rows, columns);
                Assert.True(matrix.HasIntegerDot);
                for (int batch = 1; batch <= 9; batch++)
                {
                    float[] x = TestData.Gaussian((ulong)(batch * 17 + rows), batch * columns, 1);
                    var expected = new double[batch * rows];
                    var bounds = new double[batch * rows];
                    for (int b = 0; b < batch; b++)
                    {
                        byte[] a = Activations(dot, x.AsSpan(b * columns, columns).ToArray());
                        float[] ad = DotTestSupport.Dequantize(QuantType.Q8_0, a);
                        for (int r = 0; r < rows; r++)
                        {
                            expected[b * rows + r] = Straightforward(table, w.AsSpan(r * rowBytes, rowBytes), a, columns);
                            bounds[b * rows + r] = SummationBound(type, w.AsSpan(r * rowBytes, rowBytes), wd, r * columns, a, ad, columns)
                                                 + Float(columns) * CodeBound(w.AsSpan(r * rowBytes, rowBytes), ad, columns);
                        }
                    }

                    foreach (int threads in new[] { 1, 3 })
                    {
                        var y = new float[batch * rows + 1];
                        y[^1] = 42;
                        QuantizedMath.MatMul(type, w, rows, columns, x, y, batch, threads);
                        Assert.Equal(42, y[^1]);
                        var ym = new float[batch * rows];
                        matrix.MatMul(x, ym, batch, threads);
                        for (int i = 0; i < batch * rows; i++)
                        {
                            Assert.True(Math.Abs(y[i] - expected[i]) <= bounds[i], $"{type} {rows}x{columns} batch {batch} threads {threads} [{i}]: {y[i]} vs {expected[i]}");
                            Assert.Equal(BitConverter.SingleToInt32Bits(y[i]), BitConverter.SingleToInt32Bits(ym[i]));
                        }

                        var one = new float[rows];
                        QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan((batch - 1) * columns, columns), one, threads);
                        Assert.True(one.AsSpan().SequenceEqual(y.AsSpan((batch - 1) * rows, rows)), $"{type} MatVec vs MatMul row {batch - 1}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void MatVecAccurateKeepsTheFloatPath(QuantType type)
    {
        const int rows = 16, columns = 1024;
        byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike(77, rows * columns), columns);
        float[] wd = DotTestSupport.Dequantize(type, w);
        float[] x = TestData.HeavyTailed(78, columns);
        var accurate = new float[rows];
        var fast = new float[rows];
        QuantizedMath.MatVecAccurate(type, w, rows, columns, x, accurate);
        QuantizedMath.MatVec(type, w, rows, columns, x, fast);
        int outside = 0;
        for (int r = 0; r < rows; r++)
        {
            double exact = 0, abs = 0;
            for (int c = 0; c < columns; c++)
            {
                exact += (double)wd[r * columns + c] * x[c];
                abs += Math.Abs((double)wd[r * columns + c] * x[c]);
            }

            // Float path: dequantized weights × float x, so only float summation error.
            double bound = (columns + 2) * Math.Pow(2, -23) * abs;
            Assert.True(Math.Abs(accurate[r] - exact) <= bound, $"{type} row {r}: accurate {accurate[r]} vs {exact}");
            outside += Math.Abs(fast[r] - exact) > bound ? 1 : 0;
        }

        Assert.True(outside > 0, "the integer path should carry the activations' quantization error, the float path not");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SingleThreadedCallsAllocateNothing(QuantType type)
    {
        const int rows = 40;
        foreach (int columns in new[] { 1024, 8192 + 2 * 64 }) // on the stack, then pooled scratch
        {
            byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike(3, rows * columns), columns);
            float[] x = TestData.Gaussian(4, 3 * columns, 1);
            var y = new float[3 * rows];
            var matrix = new QuantizedMatrix(type, w, rows, columns);
            for (int warm = 0; warm < 3; warm++)
            {
                QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan(0, columns), y, 1);
                QuantizedMath.MatMul(type, w, rows, columns, x, y, 3, 1);
                matrix.MatVec(x.AsSpan(0, columns), y, 1);
                matrix.MatMul(x, y, 3, 1);
            }

            // The pooled scratch of the wide case comes from ArrayPool.Shared, whose per-core stacks tests on other threads
            // share: a round may find them empty and rent a fresh array. A per-call allocation shows in every round, so
            // the least of a few rounds must be 0.
            long least = long.MaxValue;
            for (int round = 0; round < 5 && least != 0; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                QuantizedMath.MatVec(type, w, rows, columns, x.AsSpan(0, columns), y, 1);
                QuantizedMath.MatMul(type, w, rows, columns, x, y, 3, 1);
                matrix.MatVec(x.AsSpan(0, columns), y, 1);
                matrix.MatMul(x, y, 3, 1);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            Assert.Equal(0, least);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void ShortSpansAreRejected(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        var w = new byte[2 * 36];
        var a = new byte[4 * 34];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.Dot(w.AsSpan(1), a, 128)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => dot.Dot(w, a.AsSpan(1), 128)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => dot.Dot(w, a, 96)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => dot.DotReference(w, a, -64)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.DotRows(w, 36, a, 64, new float[3])).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.DotRows(w, 20, a, 64, new float[1])).ParamName);
    }

    /// <summary>Σ over weight blocks of absmax·2^−15·Σ|a|: how far the int16 codes can move the result.</summary>
    private static double CodeBound(ReadOnlySpan<byte> w, float[] ad, int n)
    {
        double bound = 0;
        for (int b = 0; b < n / 64; b++)
        {
            double abs = 0;
            for (int j = 0; j < 64; j++)
            {
                abs += Math.Abs(ad[b * 64 + j]);
            }

            bound += Math.Abs((double)BitConverter.ToSingle(w.Slice(b * 36, 4))) * Math.Pow(2, -15) * abs;
        }

        return bound;
    }

    /// <summary>The summation factor of <see cref="DotTestSupport.SummationBound"/> for n values.</summary>
    private static double Float(int n) => (n / 32 * 9 + 2) * Math.Pow(2, -23);

    /// <summary>
    /// Σ over weight blocks of absmax·2^−14·(d0·s0 + d1·s1) in double, the integer sums taken from the expected table
    /// with element 2i in the high nibble of code byte i.
    /// </summary>
    private static double Straightforward(int[] table, ReadOnlySpan<byte> w, byte[] a, int n)
    {
        double sum = 0;
        for (int b = 0; b < n / 64; b++)
        {
            double absmax = BitConverter.ToSingle(w.Slice(b * 36, 4));
            double block = 0;
            for (int h = 0; h < 2; h++)
            {
                int q8 = (2 * b + h) * 34;
                long s = 0;
                for (int j = 0; j < 32; j++)
                {
                    byte code = w[b * 36 + 4 + h * 16 + j / 2];
                    s += (long)table[j % 2 == 0 ? code >> 4 : code & 0x0F] * (sbyte)a[q8 + 2 + j];
                }

                block += Half(a, q8) * (double)s;
            }

            sum += absmax / 16384 * block;
        }

        return sum;
    }
}
