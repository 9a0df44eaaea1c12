using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Dot;

/// <summary>
/// TQ2_0 / TQ1_0 × Q8_K dot kernels: every vector path's integer block sum equals the scalar reference's (also on
/// hostile code bytes and q8 = −128); <c>Dot</c> equals <c>DotReference</c> bit for bit (same integers, same float
/// order); and both agree with native <c>ggml_vec_dot_tq*_q8_K</c> and with a dequantize-then-dot in double within
/// <see cref="Tolerance"/>.
/// </summary>
public sealed unsafe class TernaryDotTests
{
    private const int Q8Size = 292;

    public static TheoryData<int> Lengths => [256, 512, 1024, 2304, 4096];

    /// <summary>A block-sum path: weights block, activations block → Σ (q − 1)·q8.</summary>
    private delegate int BlockSumPath(ref byte x, ref byte y);

    /// <summary>The dispatched block sum, then every path TQ2_0 implements that this process runs.</summary>
    private static IEnumerable<(string Name, BlockSumPath Path)> Tq2Paths()
    {
        yield return ("dispatch", (ref byte x, ref byte y) => TernaryDot.BlockSumOn<TQ2_0Dot, BlockTQ2_0>(TQ2_0Dot.BestPath, ref x, ref y));
        foreach (DotPath path in Enum.GetValues<DotPath>().Where(TQ2_0Dot.IsSupported))
        {
            yield return (path.ToString(), (ref byte x, ref byte y) => TernaryDot.BlockSumOn<TQ2_0Dot, BlockTQ2_0>(path, ref x, ref y));
        }
    }

    /// <summary>The dispatched block sum, then every path TQ1_0 implements that this process runs.</summary>
    private static IEnumerable<(string Name, BlockSumPath Path)> Tq1Paths()
    {
        yield return ("dispatch", (ref byte x, ref byte y) => TernaryDot.BlockSumOn<TQ1_0Dot, BlockTQ1_0>(TQ1_0Dot.BestPath, ref x, ref y));
        foreach (DotPath path in Enum.GetValues<DotPath>().Where(TQ1_0Dot.IsSupported))
        {
            yield return (path.ToString(), (ref byte x, ref byte y) => TernaryDot.BlockSumOn<TQ1_0Dot, BlockTQ1_0>(path, ref x, ref y));
        }
    }

    /// <summary>
    /// Bound on |ours − theirs| for n/256 = nb blocks: (nb + 8)·2⁻²³·Σ_b |d_b|·4·Σ_j |q8_j|. Every partial sum either
    /// side forms (per block, per SIMD lane, with or without the bsums term) is bounded by |d_b|·4·Σ|q8|, and a float
    /// sum of at most nb + 8 such terms (blocks plus lane reduction) errs by at most that many half-ulps of the bound.
    /// </summary>
    private static double Tolerance(ReadOnlySpan<byte> weights, int weightBlockSize, ReadOnlySpan<byte> activations, int n)
    {
        int nb = n / 256;
        double bound = 0;
        for (int b = 0; b < nb; b++)
        {
            ReadOnlySpan<byte> y = activations.Slice(b * Q8Size, Q8Size);
            float dy = BitConverter.ToSingle(y);
            float dx = (float)BitConverter.ToHalf(weights.Slice(b * weightBlockSize + weightBlockSize - 2, 2));
            long abs = 0;
            for (int j = 0; j < 256; j++)
            {
                abs += Math.Abs((sbyte)y[4 + j]);
            }

            bound += Math.Abs((double)dx * dy) * 4 * abs;
        }

        return (nb + 8) * Math.Pow(2, -23) * bound;
    }

    private static (byte[] Weights, byte[] Activations) Quantized(QuantType type, int n, ulong seed)
    {
        float[] w = TestData.Gaussian(seed, n, 0.05);
        float[] a = TestData.TransformerLike(seed + 1, n);
        var weights = new byte[Quantizer.GetByteCount(type, n)];
        var activations = new byte[Quantizer.GetByteCount(QuantType.Q8_K, n)];
        Quantizer.Quantize(type, w, weights, n);
        Quantizer.Quantize(QuantType.Q8_K, a, activations, n);
        return (weights, activations);
    }

    /// <summary>Random bytes as weights (any code, including TQ2_0's 3), q8 over the full int8 range with consistent bsums.</summary>
    private static (byte[] Weights, byte[] Activations) Hostile(int weightBlockSize, int blocks, int seed)
    {
        var random = new Random(seed);
        var weights = new byte[blocks * weightBlockSize];
        random.NextBytes(weights);
        var activations = new byte[blocks * Q8Size];
        for (int b = 0; b < blocks; b++)
        {
            Span<byte> y = activations.AsSpan(b * Q8Size, Q8Size);
            BitConverter.TryWriteBytes(y, 0.01f);
            random.NextBytes(y.Slice(4, 256));
            if (b == 0)
            {
                y.Slice(4, 256).Fill(0x80); // −128 everywhere: the widest products
            }

            for (int k = 0; k < 16; k++)
            {
                short sum = 0;
                for (int j = 0; j < 16; j++)
                {
                    sum += (sbyte)y[4 + 16 * k + j];
                }

                BitConverter.TryWriteBytes(y.Slice(260 + 2 * k, 2), sum);
            }
        }

        return (weights, activations);
    }

    private static float GgmlDot(string name, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
        var fn = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(name);
        float s = float.NaN;
        fixed (byte* x = weights)
        fixed (byte* y = activations)
        {
            fn(n, &s, 0, x, 0, y, 0, 1);
        }

        return s;
    }

    private static bool OracleExpected =>
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    private static void AgreesWithGgmlAndDequantized<TKernel>(string ggmlName, int weightBlockSize, int n, ulong seed)
        where TKernel : IDotKernel
    {
        (byte[] weights, byte[] activations) = Quantized(TKernel.WeightType, n, seed);
        float ours = TKernel.Dot(weights, activations, n);
        float reference = TKernel.DotReference(weights, activations, n);
        Assert.Equal(BitConverter.SingleToInt32Bits(reference), BitConverter.SingleToInt32Bits(ours));

        double tolerance = Tolerance(weights, weightBlockSize, activations, n);
        Assert.True(tolerance > 0);

        // Dequantize both rows and sum the products in double: an oracle that never sees a block sum.
        var w = new float[n];
        var a = new float[n];
        Quantizer.Dequantize(TKernel.WeightType, weights, w);
        Quantizer.Dequantize(QuantType.Q8_K, activations, a);
        double expected = 0;
        for (int i = 0; i < n; i++)
        {
            expected += (double)w[i] * a[i];
        }

        Assert.True(Math.Abs(ours - expected) <= tolerance, $"n={n}: ours {ours}, dequantized {expected}, bound {tolerance}");

        if (OracleExpected)
        {
            float theirs = GgmlDot(ggmlName, weights, activations, n);
            Assert.True(Math.Abs(ours - theirs) <= tolerance, $"n={n}: ours {ours}, ggml {theirs}, bound {tolerance}");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Tq2_0_AgreesWithGgmlAndDequantizedDot(int n)
    {
        for (ulong seed = 1; seed <= 3; seed++)
        {
            AgreesWithGgmlAndDequantized<TQ2_0Dot>("ggml_vec_dot_tq2_0_q8_K", BlockTQ2_0.Size, n, seed * 7919 + (ulong)n);
        }
    }

    [Fact]
    public void Tq2_0_BlockSums_EveryPathEqualsReference()
    {
        var cases = new List<(byte[] Weights, byte[] Activations)> { Hostile(BlockTQ2_0.Size, 64, 42) };
        cases.Add(Quantized(QuantType.TQ2_0, 16 * 256, 5));
        foreach ((byte[] weights, byte[] activations) in cases)
        {
            ReadOnlySpan<BlockTQ2_0> x = MemoryMarshal.Cast<byte, BlockTQ2_0>(weights);
            ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
            for (int b = 0; b < x.Length; b++)
            {
                int expected = TQ2_0Dot.BlockSumReference(in x[b], in y[b]);
                Assert.Equal(ExpectedTq2Sum(weights.AsSpan(b * BlockTQ2_0.Size), activations.AsSpan(b * Q8Size)), expected);
                foreach ((string name, BlockSumPath path) in Tq2Paths())
                {
                    int actual = path(ref weights[b * BlockTQ2_0.Size], ref activations[b * Q8Size]);
                    Assert.True(expected == actual, $"{name}, block {b}: {actual} != {expected}");
                }
            }
        }
    }

    /// <summary>Σ (q − 1)·q8 from the element layout of docs/formats.md#tq2_0, element by element (not ggml's loop order).</summary>
    private static int ExpectedTq2Sum(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        int sum = 0;
        for (int e = 0; e < 256; e++)
        {
            int q = (x[e / 128 * 32 + e % 32] >> (2 * (e % 128 / 32))) & 3;
            sum += (q - 1) * (sbyte)y[4 + e];
        }

        return sum;
    }

    private static void HostileDotEqualsReference<TKernel>(int weightBlockSize)
        where TKernel : IDotKernel
    {
        (byte[] weights, byte[] activations) = Hostile(weightBlockSize, 16, 7);
        for (int b = 0; b < 16; b++)
        {
            weights[b * weightBlockSize + weightBlockSize - 2] = 0x00; // fp16 0.5: finite scales
            weights[b * weightBlockSize + weightBlockSize - 1] = 0x38;
        }

        float reference = TKernel.DotReference(weights, activations, 4096);
        Assert.Equal(BitConverter.SingleToInt32Bits(reference), BitConverter.SingleToInt32Bits(TKernel.Dot(weights, activations, 4096)));
    }

    private static void BadArgumentsThrow<TKernel>(int weightBlockSize)
        where TKernel : IDotKernel
    {
        var w = new byte[weightBlockSize * 2];
        var a = new byte[Q8Size * 2];
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => TKernel.Dot(w, a, 100)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => TKernel.Dot(w, a, -256)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => TKernel.Dot(w, a, 768)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => TKernel.Dot(w.AsSpan(), a.AsSpan(0, Q8Size), 512)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => TKernel.DotReference(w, a, 768)).ParamName);
        Assert.Equal(0f, TKernel.Dot(w, a, 0));
    }

    [Fact]
    public void Tq2_0_HostileBlocks_DotEqualsReference() => HostileDotEqualsReference<TQ2_0Dot>(BlockTQ2_0.Size);

    /// <summary>
    /// The row kernel (four rows per step on x86, then the rest one by one): every row equals the scalar reference of that
    /// row bit for bit, on random code bytes and q8 at −128; a span one byte short of the last row is rejected.
    /// </summary>
    [Fact]
    public void Tq2_0_HostileRows_DotRowsEqualsReference()
    {
        const int rows = 9, blocks = 16, n = blocks * 256;
        const int rowBytes = blocks * BlockTQ2_0.Size;
        (byte[] weights, byte[] all) = Hostile(BlockTQ2_0.Size, rows * blocks, 11);
        byte[] activations = all[..(blocks * Q8Size)];
        for (int b = 0; b < rows * blocks; b++)
        {
            weights[b * BlockTQ2_0.Size + 64] = (byte)(b * 37); // finite fp16 scales of varied magnitude
            weights[b * BlockTQ2_0.Size + 65] = (byte)(0x30 + b % 12);
        }

        var results = new float[rows];
        TQ2_0Dot.DotRows(weights, rowBytes, activations, n, results);
        for (int r = 0; r < rows; r++)
        {
            float reference = TQ2_0Dot.DotReference(weights.AsSpan(r * rowBytes, rowBytes), activations, n);
            Assert.True(BitConverter.SingleToInt32Bits(reference) == BitConverter.SingleToInt32Bits(results[r]), $"row {r}: {results[r]} vs {reference}");
        }

        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => TQ2_0Dot.DotRows(weights.AsSpan(0, rows * rowBytes - 1), rowBytes, activations, n, new float[rows])).ParamName);
    }

    [Fact]
    public void Tq2_0_BadArguments_Throw() => BadArgumentsThrow<TQ2_0Dot>(BlockTQ2_0.Size);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Tq1_0_AgreesWithGgmlAndDequantizedDot(int n)
    {
        for (ulong seed = 1; seed <= 3; seed++)
        {
            AgreesWithGgmlAndDequantized<TQ1_0Dot>("ggml_vec_dot_tq1_0_q8_K", BlockTQ1_0.Size, n, seed * 7919 + (ulong)n);
        }
    }

    [Fact]
    public void Tq1_0_BlockSums_EveryPathEqualsReference()
    {
        var cases = new List<(byte[] Weights, byte[] Activations)> { Hostile(BlockTQ1_0.Size, 64, 43) };
        cases.Add(Quantized(QuantType.TQ1_0, 16 * 256, 6));
        foreach ((byte[] weights, byte[] activations) in cases)
        {
            ReadOnlySpan<BlockTQ1_0> x = MemoryMarshal.Cast<byte, BlockTQ1_0>(weights);
            ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
            for (int b = 0; b < x.Length; b++)
            {
                int expected = TQ1_0Dot.BlockSumReference(in x[b], in y[b]);
                Assert.Equal(ExpectedTq1Sum(weights.AsSpan(b * BlockTQ1_0.Size), activations.AsSpan(b * Q8Size)), expected);
                foreach ((string name, BlockSumPath path) in Tq1Paths())
                {
                    int actual = path(ref weights[b * BlockTQ1_0.Size], ref activations[b * Q8Size]);
                    Assert.True(expected == actual, $"{name}, block {b}: {actual} != {expected}");
                }
            }
        }
    }

    /// <summary>Σ (t − 1)·q8 from the element layout of docs/formats.md#tq1_0, element by element (not ggml's loop order).</summary>
    private static int ExpectedTq1Sum(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        int sum = 0;
        for (int e = 0; e < 256; e++)
        {
            (int index, int n) = e < 160 ? (e % 32, e / 32)
                : e < 240 ? (32 + (e - 160) % 16, (e - 160) / 16)
                : (48 + (e - 240) % 4, (e - 240) / 4);
            int t = ((x[index] * (int)Math.Pow(3, n)) & 255) * 3 >> 8;
            sum += (t - 1) * (sbyte)y[4 + e];
        }

        return sum;
    }

    [Fact]
    public void Tq1_0_HostileBlocks_DotEqualsReference() => HostileDotEqualsReference<TQ1_0Dot>(BlockTQ1_0.Size);

    [Fact]
    public void Tq1_0_BadArguments_Throw() => BadArgumentsThrow<TQ1_0Dot>(BlockTQ1_0.Size);

    /// <summary>Every byte value at every trit position: the compare-based decoding of the vector paths matches.</summary>
    [Fact]
    public void Tq1_0_EveryByteValue_EveryPathEqualsReference()
    {
        var weights = new byte[BlockTQ1_0.Size * 256];
        for (int b = 0; b < 256; b++)
        {
            for (int p = 0; p < BlockTQ1_0.Size; p++)
            {
                weights[b * BlockTQ1_0.Size + p] = (byte)(b + p); // each position takes all 256 values over the blocks
            }
        }

        (_, byte[] activations) = Hostile(BlockTQ1_0.Size, 256, 44);
        ReadOnlySpan<BlockTQ1_0> x = MemoryMarshal.Cast<byte, BlockTQ1_0>(weights);
        ReadOnlySpan<BlockQ8_K> y = MemoryMarshal.Cast<byte, BlockQ8_K>(activations);
        for (int b = 0; b < 256; b++)
        {
            int expected = ExpectedTq1Sum(weights.AsSpan(b * BlockTQ1_0.Size), activations.AsSpan(b * Q8Size));
            Assert.Equal(expected, TQ1_0Dot.BlockSumReference(in x[b], in y[b]));
            foreach ((string name, BlockSumPath path) in Tq1Paths())
            {
                Assert.Equal(expected, path(ref weights[b * BlockTQ1_0.Size], ref activations[b * Q8Size]));
            }
        }
    }
}
