using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// The lane-parallel Q4_K / Q5_K quantizer against the scalar reference and ggml on rows built to stress it: flat,
/// zero, single-spike, all-positive, subnormal and huge sub-blocks side by side in one vector, and super-block counts
/// that leave vector lanes empty.
/// </summary>
public sealed class KQuant45LaneTests
{
    public static TheoryData<QuantType, int, bool> Cases()
    {
        var data = new TheoryData<QuantType, int, bool>();
        foreach (QuantType type in new[] { QuantType.Q4_K, QuantType.Q5_K })
        {
            foreach (int blocks in new[] { 1, 2, 3, 5 })
            {
                data.Add(type, blocks, false);
                data.Add(type, blocks, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LanesEqualReferenceAndGgml(QuantType type, int blocks, bool withImportance)
    {
        KernelEntry kernel = KernelRegistry.TryGet(type)!;
        for (ulong seed = 1; seed <= 6; ++seed)
        {
            float[] x = MixedSubBlocks(seed, blocks * 256);
            float[] importance = withImportance ? TestData.Importance(seed, x.Length, withZeros: seed % 2 == 0) : [];
            var fast = new byte[Quantizer.GetByteCount(type, x.Length)];
            var reference = new byte[fast.Length];
            kernel.Quantize!(x, fast, importance);
            kernel.QuantizeReference!(x, reference, importance);
            AssertBytes.Equal(reference, fast, type);
            if (GgmlNative.IsByteReference)
            {
                AssertBytes.Equal(GgmlNative.QuantizeChunk((int)type, x, x.Length, importance), fast, type);
            }
        }
    }

    /// <summary>Each 32-value sub-block drawn from a different pattern.</summary>
    private static float[] MixedSubBlocks(ulong seed, int n)
    {
        var rng = new TestRng(seed);
        var x = new float[n];
        for (int s = 0; s < n / 32; ++s)
        {
            Span<float> xs = x.AsSpan(32 * s, 32);
            int pattern = (int)((seed + (ulong)s * 7) % 10);
            for (int i = 0; i < 32; ++i)
            {
                double g = rng.NextGaussian();
                xs[i] = pattern switch
                {
                    0 => 0f,
                    1 => -1.5f,                                   // flat and negative: max == min
                    2 => 2.25f,                                   // flat and positive: the min is clamped to 0
                    3 => i == 5 ? 3f : 0f,                        // one spike
                    4 => (float)Math.Abs(g) + 0.5f,               // all positive
                    5 => (float)(g * 1e-40),                      // subnormal
                    6 => (float)(g * 1e30),                       // huge
                    7 => (float)(g * 1e-3),                       // small next to normal ones
                    8 => i % 2 == 0 ? -(float)Math.Abs(g) : 0f,   // non-positive
                    _ => (float)g,
                };
            }
        }

        return x;
    }

    /// <summary>
    /// LaneSearch.MakeQpQuants against the scalar make_qp_quants, lane by lane: typical scales, zero and tiny groups,
    /// and negative values whose codes wrap as uint8_t does.
    /// </summary>
    [Fact]
    public void LaneQpQuantsEqualScalar()
    {
        if (SimdFloat512.IsSupported)
        {
            QpLanesEqualScalar<SimdFloat512>();
        }

        if (SimdFloat256.IsSupported)
        {
            QpLanesEqualScalar<SimdFloat256>();
        }

        if (SimdFloat128.IsSupported)
        {
            QpLanesEqualScalar<SimdFloat128>();
        }
    }

    private static void QpLanesEqualScalar<TVec>() where TVec : struct, ISimdFloat<TVec>
    {
        int c = TVec.Count;
        var rng = new TestRng(77);
        var xt = new float[8 * c];
        var wt = new float[8 * c];
        var lt = new float[8 * c];
        var result = new float[c];
        var x = new float[8];
        var w = new float[8];
        var L = new byte[8];
        bool sawWrapped = false;
        for (int trial = 0; trial < 400; ++trial)
        {
            for (int k = 0; k < c; ++k)
            {
                int kind = rng.NextInt(6);
                for (int j = 0; j < 8; ++j)
                {
                    double g = rng.NextGaussian();
                    xt[j * c + k] = kind switch
                    {
                        0 => 0f,
                        1 => (float)(Math.Abs(g) * 1e-17),
                        2 => (float)(g * 0.3),                  // some negative: wrapped codes
                        3 => j == 3 ? 1f : 0f,
                        4 => (float)Math.Abs(g * 100),
                        _ => (float)(Math.Abs(g) * 0.05 + 0.01),
                    };
                    wt[j * c + k] = rng.NextInt(4) == 0 ? 0f : (float)(rng.NextDouble() * 50);
                }
            }

            TVec scale = LaneSearch.MakeQpQuants<TVec>(8, 63, in xt[0], in wt[0], ref lt[0]);
            TVec.Store(scale, ref result[0]);
            for (int k = 0; k < c; ++k)
            {
                for (int j = 0; j < 8; ++j)
                {
                    x[j] = xt[j * c + k];
                    w[j] = wt[j * c + k];
                }

                float expected = QuantSearch.MakeQpQuants(8, 63, x, L, w);
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(result[k]));
                for (int j = 0; j < 8; ++j)
                {
                    Assert.Equal(L[j], (byte)lt[j * c + k]);
                    Assert.Equal(L[j], lt[j * c + k]);
                    sawWrapped |= L[j] > 63;
                }
            }
        }

        Assert.True(sawWrapped);
    }
}
