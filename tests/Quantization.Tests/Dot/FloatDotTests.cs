using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Dot;

/// <summary>
/// The fused float dot of F32, F16 and BF16 weights (docs/formats.md#float-dot-products): exact widening of every bit
/// pattern on every path, every path within the float32 summation bound of the double-precision reference, the row loop
/// equal to the one-row dot to the bit, and float activations more accurate than ggml's vec_dot, which rounds them.
/// </summary>
public sealed class FloatDotTests
{
    public static TheoryData<QuantType> FloatTypes() => [QuantType.F32, QuantType.F16, QuantType.BF16];

    private delegate void RowsOnFn(DotPath path, ReadOnlySpan<byte> w, int rowBytes, ReadOnlySpan<byte> a, int n, Span<float> results);

    private sealed record Kernel(int ElementBytes, RowsOnFn RowsOn, Func<DotPath, ushort, (float Value, bool Finite)>? Widen16);

    private static Kernel For(QuantType type) => type switch
    {
        QuantType.F32 => new(4, FloatDot<F32Weights>.DotRowsOn, null),
        QuantType.F16 => new(2, FloatDot<F16Weights>.DotRowsOn, Widen<F16Weights>),
        QuantType.BF16 => new(2, FloatDot<BF16Weights>.DotRowsOn, Widen<BF16Weights>),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Element 5 of a row of sixteen copies of <paramref name="bits"/>, widened on <paramref name="path"/>.</summary>
    /// <remarks>A value the vector widening does not carry (<see cref="IFloatWeights.IsFinite(Vector128{ushort})"/> false) counts as not run.</remarks>
    private static (float, bool) Widen<T>(DotPath path, ushort bits) where T : IFloatWeights
    {
        ushort[] row = new ushort[16];
        Array.Fill(row, bits);
        ref byte r = ref MemoryMarshal.AsBytes(row.AsSpan())[0];
        Vector256<ushort> m256 = default;
        Vector128<ushort> m128 = default;
        return path switch
        {
            DotPath.Avx512 when DotPaths.CanRun(path) => (Scaled(T.Load512(ref r, 0, ref m256)[5]), T.IsFinite(m256)),
            DotPath.Avx2 when DotPaths.CanRun(path) => (Scaled(T.Load256(ref r, 0, ref m128)[5]), T.IsFinite(m128)),
            DotPath.Ssse3 or DotPath.AdvSimd when DotPaths.CanRun(path) => (Scaled(T.Load128(ref r, 0, ref m128).Upper[1]), T.IsFinite(m128)),
            DotPath.Scalar => (T.ToSingle(ref r, 5), true),
            _ => (0, false),
        };

        // The loads leave out the power of two ActivationScale: applied here in double, exactly.
        static float Scaled(float loaded) => (float)((double)loaded * T.ActivationScale);
    }

    private static DotPath[] RunnablePaths(DotEntry dot) => [.. dot.Paths.Where(p => DotPaths.IsSupported([.. dot.Paths], p))];

    /// <summary>Every F16 and BF16 bit pattern (subnormals, ±0, ±∞, NaNs) widens on every path to the value the dequantizer gives.</summary>
    [Theory]
    [InlineData(QuantType.F16)]
    [InlineData(QuantType.BF16)]
    public void EveryBitPatternWidensExactlyOnEveryPath(QuantType type)
    {
        Kernel k = For(type);
        var expected = new float[65536];
        byte[] all = MemoryMarshal.AsBytes(Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray().AsSpan()).ToArray();
        Quantizer.Dequantize(type, all, expected);
        int ran = 0;
        foreach (DotPath path in Enum.GetValues<DotPath>())
        {
            if (path != DotPath.Scalar && !(DotPaths.CanRun(path) && path is DotPath.Avx512 or DotPath.Avx2 or DotPath.Ssse3 or DotPath.AdvSimd))
            {
                continue;
            }

            int carried = 0;
            for (int bits = 0; bits < 65536; bits++)
            {
                (float actual, bool finite) = k.Widen16!(path, (ushort)bits);
                // Exactly the infinities and NaNs may be left to the driver's exact pass, and only by F16.
                bool special = (bits & 0x7FFF) >= (type == QuantType.F16 ? 0x7C00 : 0x7F80);
                Assert.True(finite || (special && type == QuantType.F16), $"{type} {path} 0x{bits:X4} is flagged");
                if (!finite)
                {
                    continue;
                }

                carried++;

                bool same = float.IsNaN(expected[bits])
                    ? float.IsNaN(actual) && float.IsNegative(actual) == float.IsNegative(expected[bits])
                    : BitConverter.SingleToInt32Bits(actual) == BitConverter.SingleToInt32Bits(expected[bits]);
                Assert.True(same, $"{type} {path} 0x{bits:X4}: {actual} vs {expected[bits]}");
            }

            Assert.True(carried >= 63488, $"{type} {path}: only {carried} values widened"); // every finite half at least
            ran++;
        }

        // The scalar widening, and on every tier but the scalar one at least one vector widening.
        Assert.True(ran >= (Vector128.IsHardwareAccelerated ? 2 : 1), $"{ran} widenings ran");
    }

    /// <summary>
    /// The bound of a path against the exact sum S = Σ w·x (u = 2⁻²⁴): each row adds into one accumulator of L lanes, so a
    /// lane takes at most ⌈n / L⌉ rounded additions, the lanes are then summed (at most L − 1 more), then the scalar tail
    /// (at most 7 values) and the final addition; each product is rounded at most once (not at all where fused):
    /// |result − S| ≤ (⌈n / L⌉ + L + 8 + 1)·u·Σ|w·x|, to first order (doubled here for the second-order terms and for the
    /// reference's own rounding to float).
    /// </summary>
    private static double PathBound(DotPath path, int n, double absSum)
    {
        int lanes = path switch { DotPath.Avx512 => 16, DotPath.Avx2 => 8, DotPath.Scalar => 1, _ => 4 };
        double depth = path == DotPath.Scalar ? 1 : (n + lanes - 1) / lanes + lanes + 8 + 1;
        return 2 * depth * Math.Pow(2, -24) * absSum + 1e-37;
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryPathAgreesWithTheDoublePrecisionSumWithinTheBound(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        Kernel k = For(type);
        foreach (int n in new[] { 1, 7, 8, 15, 16, 17, 33, 100, 4096 + 5 })
        {
            for (ulong seed = 1; seed <= 3; seed++)
            {
                float[] wf = seed == 3 ? TestData.HeavyTailed(seed + (ulong)n, n) : TestData.TransformerLike(seed + (ulong)n, n);
                float[] x = TestData.Gaussian(seed * 7 + (ulong)n, n, 1.5);
                byte[] w = DotTestSupport.Quantize(type, wf, n);
                float[] wd = DotTestSupport.Dequantize(type, w);
                byte[] a = DotTestSupport.Activations(dot, x);
                double exact = 0, abs = 0;
                for (int i = 0; i < n; i++)
                {
                    exact += (double)wd[i] * x[i];
                    abs += Math.Abs((double)wd[i] * x[i]);
                }

                float reference = dot.DotReference(w, a, n);
                Assert.True(Math.Abs(reference - exact) <= PathBound(DotPath.Scalar, n, abs), $"{type} reference n={n}: {reference} vs {exact}");
                foreach (DotPath path in RunnablePaths(dot))
                {
                    float actual = dot.DotOn(path, w, a, n);
                    double bound = PathBound(path, n, abs);
                    Assert.True(Math.Abs(actual - exact) <= bound, $"{type} {path} n={n} seed {seed}: {actual} vs {exact}, bound {bound:E3}");
                    var rows = new float[1];
                    k.RowsOn(path, w, w.Length, a, n, rows);
                    Assert.Equal(BitConverter.SingleToInt32Bits(actual), BitConverter.SingleToInt32Bits(rows[0]));
                }

                Assert.Equal(BitConverter.SingleToInt32Bits(dot.DotOn(dot.BestPath, w, a, n)), BitConverter.SingleToInt32Bits(dot.Dot(w, a, n)));
            }
        }
    }

    /// <summary>Groups of four rows and single rows, on every path: each result equals the one-row dot of its row to the bit.</summary>
    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryPathsRowLoopEqualsItsOneRowDotToTheBit(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        Kernel k = For(type);
        foreach (int n in new[] { 5, 24, 131 })
        {
            int rowBytes = n * k.ElementBytes + 6; // a stride longer than the row: only n values of each row are read
            for (int rows = 1; rows <= 9; rows++)
            {
                byte[] w = new byte[rows * rowBytes];
                for (int r = 0; r < rows; r++)
                {
                    DotTestSupport.Quantize(type, TestData.TransformerLike((ulong)(r + 31 * n), n), n).CopyTo(w, r * rowBytes);
                }

                byte[] a = DotTestSupport.Activations(dot, TestData.Gaussian((ulong)n, n, 1));
                foreach (DotPath path in RunnablePaths(dot))
                {
                    var results = new float[rows];
                    k.RowsOn(path, w, rowBytes, a, n, results);
                    for (int r = 0; r < rows; r++)
                    {
                        float single = dot.DotOn(path, w.AsSpan(r * rowBytes, n * k.ElementBytes), a, n);
                        Assert.True(BitConverter.SingleToInt32Bits(single) == BitConverter.SingleToInt32Bits(results[r]),
                                    $"{type} {path} n={n} row {r} of {rows}: {results[r]} vs {single}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ShortSpansAreRejected(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        const int n = 8;
        var w = new byte[n * dot.WeightFormat.BytesPerBlock];
        var a = new byte[n * sizeof(float)];
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.Dot(w.AsSpan(1), a, n)).ParamName);
        Assert.Equal("activations", Assert.Throws<ArgumentException>(() => dot.Dot(w, a.AsSpan(1), n)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentException>(() => dot.DotRows(w, w.Length, a, n, new float[2])).ParamName);
    }

    /// <summary>An infinite or NaN weight makes the product infinite or NaN, as multiplying the dequantized row does.</summary>
    [Theory]
    [InlineData(QuantType.F16, 0x7C00)]
    [InlineData(QuantType.F16, 0xFE01)]
    [InlineData(QuantType.BF16, 0xFF80)]
    public void NonFiniteWeightsGiveNonFiniteResults(QuantType type, int bits)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        const int n = 64;
        ushort[] row = new ushort[n];
        row[37] = (ushort)bits;
        byte[] w = MemoryMarshal.AsBytes(row.AsSpan()).ToArray();
        float[] x = TestData.Gaussian(3, n, 1);
        x[37] = 2;
        float[] wd = DotTestSupport.Dequantize(type, w);
        float expected = wd[37] * 2;
        foreach (DotPath path in RunnablePaths(dot))
        {
            float actual = dot.DotOn(path, w, DotTestSupport.Activations(dot, x), n);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(actual) : actual == expected, $"{type} {path}: {actual} vs {expected}");
        }
    }

    /// <summary>
    /// Activations of 2¹⁶ and more overflow F16's scaled activations (x·2¹¹²): such a row takes the reference, so the
    /// result is the double-precision sum rounded, on every path and in every row group.
    /// </summary>
    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void LargeActivationsGiveTheReference(QuantType type)
    {
        DotEntry dot = DotRegistry.TryGet(type)!;
        Kernel k = For(type);
        const int n = 80, rows = 5;
        byte[] w = DotTestSupport.Quantize(type, TestData.TransformerLike(8, rows * n), n);
        float[] x = TestData.Gaussian(9, n, 1);
        x[3] = 3e5f;
        x[40] = -7e4f;
        byte[] a = DotTestSupport.Activations(dot, x);
        foreach (DotPath path in RunnablePaths(dot))
        {
            var results = new float[rows];
            k.RowsOn(path, w, n * k.ElementBytes, a, n, results);
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<byte> row = w.AsSpan(r * n * k.ElementBytes, n * k.ElementBytes);
                float reference = dot.DotReference(row, a, n);
                Assert.True(float.IsFinite(results[r]), $"{type} {path} row {r}: {results[r]}");
                if (type == QuantType.F16)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(reference), BitConverter.SingleToInt32Bits(results[r]));
                }
            }
        }
    }

    /// <summary>
    /// ggml's <c>ggml_vec_dot_f16</c> / <c>_bf16</c> multiply x rounded to the weights' type (its vec_dot_type), ours x in
    /// float: over many rows ours is nearer the exact sum, and both agree within ggml's rounding of x (2⁻¹¹ / 2⁻⁸ relative per
    /// value) plus both summation bounds. F32 against <c>ggml_vec_dot_f32</c>: within both summation bounds.
    /// </summary>
    [Theory]
    [MemberData(nameof(FloatTypes))]
    public unsafe void FloatActivationsAreAtLeastAsAccurateAsGgmlsVecDot(QuantType type)
    {
        if (!GgmlNative.IsAvailable)
        {
            Assert.False(GgmlNative.IsByteReference, GgmlNative.LoadError);
            Assert.Skip("ggml is not available on this platform: " + GgmlNative.LoadError);
        }

        DotEntry dot = DotRegistry.TryGet(type)!;
        var fn = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport("ggml_vec_dot_" + GgmlNative.TypeName((int)type));
        double activationRounding = type switch { QuantType.F16 => Math.Pow(2, -11), QuantType.BF16 => Math.Pow(2, -8), _ => 0 };
        const int n = 4096;
        double oursError = 0, ggmlError = 0;
        for (ulong seed = 1; seed <= 32; seed++)
        {
            float[] wf = TestData.TransformerLike(seed, n);
            float[] x = TestData.Gaussian(seed + 1000, n, 1);
            byte[] w = DotTestSupport.Quantize(type, wf, n);
            float[] wd = DotTestSupport.Dequantize(type, w);
            byte[] xg = DotTestSupport.Quantize(type, x, n); // ggml's own conversion of x (same bytes)
            double exact = 0, abs = 0;
            for (int i = 0; i < n; i++)
            {
                exact += (double)wd[i] * x[i];
                abs += Math.Abs((double)wd[i] * x[i]);
            }

            float theirs = 0;
            fixed (byte* wp = w)
            fixed (byte* xp = xg)
            {
                fn(n, &theirs, 0, wp, 0, xp, 0, 1);
            }

            float ours = dot.Dot(w, DotTestSupport.Activations(dot, x), n);
            double bound = 2 * PathBound(DotPath.AdvSimd, n, abs) + activationRounding * abs; // 4 lanes: the largest of the vector bounds
            Assert.True(Math.Abs(ours - (double)theirs) <= bound, $"{type} seed {seed}: ours {ours}, ggml {theirs}, bound {bound:E3}");
            oursError += (ours - exact) * (ours - exact);
            ggmlError += (theirs - exact) * (theirs - exact);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{type}: rms error ours {Math.Sqrt(oursError / 32):E3}, ggml {Math.Sqrt(ggmlError / 32):E3}");
        if (type != QuantType.F32)
        {
            // F32: both sides sum in float32 in different orders; neither is more accurate by construction.
            Assert.True(oursError <= ggmlError, $"{type}: squared error ours {oursError:E3}, ggml {ggmlError:E3}");
        }
    }
}
