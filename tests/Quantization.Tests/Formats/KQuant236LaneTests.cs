using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Formats;

/// <summary>
/// The lane-parallel quantizers of Q2_K, Q3_K and Q6_K (one 16-value sub-block per lane) against the scalar reference
/// on sub-blocks that stress the per-lane masking: neighbouring lanes take different branches (flat, all-zero,
/// early-exit, descent that stops at different sweeps, overflowing and subnormal values); on x64 ggml's bytes too.
/// </summary>
public sealed class KQuant236LaneTests
{
    public static TheoryData<QuantType, string> Cases()
    {
        var data = new TheoryData<QuantType, string>();
        foreach (QuantType t in new[] { QuantType.Q2_K, QuantType.Q3_K, QuantType.Q6_K })
        {
            foreach (string imp in new[] { "none", "imatrix", "zeros" })
            {
                data.Add(t, imp);
            }
        }

        return data;
    }

    private static float[] Patterns(ulong seed, int blocks)
    {
        float[] g = TestData.Gaussian(seed, blocks * 256, 1.0);
        var x = new float[g.Length];
        for (int sb = 0; sb < x.Length / 16; sb++)
        {
            int p = (int)((sb * 7 + (int)(seed % 13)) % 14);
            for (int e = 0; e < 16; e++)
            {
                int i = 16 * sb + e;
                x[i] = p switch
                {
                    0 => 0f,
                    1 => e % 3 == 0 ? -0f : 0f,
                    2 => 0.75f,
                    3 => -2.5f,
                    4 => (e % 8) - 4,                                 // on the Q3 grid: descent finds nothing to change
                    5 => sb > 0 ? -x[i - 16] : g[i],                  // the previous sub-block negated: |scale| ties
                    6 => e == 5 ? 50f : g[i] * 0.01f,
                    7 => g[i] * 1e-30f,
                    8 => g[i] * 1e20f,
                    9 => e * 0.25f - 1f,
                    10 => (e % 2 == 0 ? 1 : -1) * (1 + MathF.Abs(g[i])),
                    11 => MathF.Round(g[i] * 4) / 4,
                    12 => e < 8 ? 1e-3f * g[i] : g[i],
                    _ => g[i],
                };
            }
        }

        return x;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LanePathEqualsReference(QuantType type, string importance)
    {
        KernelEntry kernel = KernelRegistry.TryGet(type)!;
        for (ulong seed = 1; seed <= 40; seed++)
        {
            int blocks = 1 + (int)(seed % 4);
            float[] x = Patterns(seed, blocks);
            float[] qw = importance == "none" ? [] : TestData.Importance(seed, x.Length, withZeros: importance == "zeros");
            var fast = new byte[Quantizer.GetByteCount(type, x.Length)];
            var reference = new byte[fast.Length];
            kernel.Quantize!(x, fast, qw);
            kernel.QuantizeReference!(x, reference, qw);
            AssertBytes.Equal(reference, fast, type);
            if (GgmlNative.IsByteReference)
            {
                Assert.True(GgmlNative.IsAvailable, GgmlNative.LoadError);
                AssertBytes.Equal(GgmlNative.QuantizeChunk((int)type, x, x.Length, qw), reference, type);
            }
        }
    }

    /// <summary>
    /// Q3_K without importance pools the sub-blocks that change in their first descent sweep and finishes them
    /// elsewhere; a pooled sub-block whose final scale rounds to zero must still emit the codes of that descent.
    /// Every third sub-block here is 1000x smaller than its neighbours (scale 0), about a fifth of them pooled,
    /// over rows of 1 to 27 super-blocks (partial, full and several chunks; odd counts).
    /// </summary>
    [Fact]
    public void Q3_KPooledZeroScaleSubBlocksKeepTheirCodes()
    {
        KernelEntry kernel = KernelRegistry.TryGet(QuantType.Q3_K)!;
        foreach (int blocks in new[] { 1, 2, 7, 8, 9, 17, 27 })
        {
            float[] x = TestData.Gaussian(0x3C0DE + (ulong)blocks, blocks * 256, 1.0);
            for (int sb = 0; sb < x.Length / 16; sb += 3)
            {
                for (int e = 0; e < 16; e++)
                {
                    x[16 * sb + e] *= 1e-3f;
                }
            }

            var fast = new byte[Quantizer.GetByteCount(QuantType.Q3_K, x.Length)];
            var reference = new byte[fast.Length];
            kernel.Quantize!(x, fast, []);
            kernel.QuantizeReference!(x, reference, []);
            AssertBytes.Equal(reference, fast, QuantType.Q3_K);
        }
    }
}
