using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// The quirks of ggml's IQ4 search (docs/formats.md#iq4-search, docs/formats.md#iq4_xs), each on an input where it changes the bytes: our bytes
/// equal native ggml's (on x64, the byte reference), and a variant of the search with the quirk removed, written
/// here, gives different bytes. The variant with every quirk kept reproduces ggml too, so the comparison is fair.
/// </summary>
public sealed class IQ4QuirkTests
{
    /// <summary>Every quirk kept (not <c>new Variant()</c>, which would skip the primary constructor's defaults).</summary>
    private static readonly Variant s_ggml = new(Ntry: 7);

    private static readonly sbyte[] s_values = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>Switches that remove one quirk each; the default keeps them all (ggml's behaviour).</summary>
    private readonly record struct Variant(
        int Ntry = 7,
        bool TiesDown = false,
        bool BranchlessBestIndex = false,
        bool LastMaxWins = false,
        bool RoundedScaleInDl = false,
        bool ClearStaleCodes = false);

    // ---- ntry = 7 (ggml_quantize_chunk) vs ntry = −1 (quantize_row_iq4_nl_ref) ----

    [Fact]
    public void ChunkSearchesScalesButRefDoesNot()
    {
        float[] x = TestData.GgmlGenerateData(0f, 256);
        byte[] chunk = Quantize(QuantType.IQ4_NL, x);
        var reference = new byte[chunk.Length];
        IQ4_NLReference.QuantizeRowRef(x, reference);

        Assert.NotEqual(chunk, reference);
        Assert.Equal(chunk, Variant7(x, new Variant(Ntry: 7)));
        Assert.Equal(reference, Variant7(x, new Variant(Ntry: -1)));
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ4_NL, x, 256), chunk);
            Assert.Equal(GgmlNative.QuantizeRowRef("iq4_nl", (int)QuantType.IQ4_NL, x), reference);
        }
    }

    // ---- best_index_int8: exact midpoints go to the higher level; NaN lands on 15 ----

    /// <summary>
    /// With the ref (ntry = −1) and a block whose signed max is −127, the first-pass d = max/−127 = 1 exactly, and the
    /// ref keeps the first pass's codes, so they are
    /// best_index_int8 of the values themselves: put every midpoint between neighbouring levels into the block.
    /// </summary>
    [Fact]
    public void ExactMidpointsGoToTheHigherLevel()
    {
        var x = new float[32];
        x[0] = -127;
        for (int i = 0; i < 15; i++)
        {
            x[1 + i] = (s_values[i] + s_values[i + 1]) / 2f; // exact in float
            x[16 + i] = -x[1 + i] * 0.5f;
        }

        x[31] = 0.25f;
        var ours = new byte[BlockIQ4_NL.Size];
        IQ4_NLReference.QuantizeRowRef(x, ours);
        for (int i = 0; i < 15; i++)
        {
            Assert.Equal(i + 1, ours[2 + 1 + i] & 0xF); // the tie between levels i and i+1 picks i+1
        }

        Assert.Equal(ours, Variant7(x, new Variant(Ntry: -1)));
        Assert.NotEqual(ours, Variant7(x, new Variant(Ntry: -1, TiesDown: true)));
        // ggml's newer branchless search (x+x against the summed neighbours) sends ties up as well: same bytes here.
        Assert.Equal(ours, Variant7(x, new Variant(Ntry: -1, BranchlessBestIndex: true)));
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeRowRef("iq4_nl", (int)QuantType.IQ4_NL, x), ours);
        }
    }

    /// <summary>
    /// Values near 1e20 square to +∞, so the least-squares scale is ∞/∞ = NaN and the final codes are
    /// best_index_int8(NaN): the oracle's binary search (every comparison false) gives 15, the newer branchless
    /// search in ggml's current source gives 0. The oracle's bytes decide: the binary search is what it runs.
    /// (IQ4_XS never reaches it: a NaN sub-block scale gives l = 0, dl = 0 and the codes of 0·x.)
    /// </summary>
    [Fact]
    public void NaNCodesFollowTheOraclesBinarySearch()
    {
        float[] x = [.. Enumerable.Range(0, 64).Select(i => (float)((i % 5 - 2.2) * 1e20))];
        byte[] ours = Quantize(QuantType.IQ4_NL, x);
        Assert.Equal(0xFE00, BitConverter.ToUInt16(ours, 0)); // FP16 of x86's default NaN
        Assert.All(ours.AsSpan(2, 16).ToArray(), b => Assert.Equal(0xFF, b));
        Assert.Equal(ours, Variant7(x, s_ggml));
        Assert.NotEqual(ours, Variant7(x, new Variant(BranchlessBestIndex: true)));
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ4_NL, x, 64), ours);
        }
    }

    // ---- the strict '>' of the signed max (elements, and IQ4_XS sub-block scales) ----

    /// <summary>
    /// +5 then −5 in a block: the first sets the sign of max. The ref's d = max/−127 flips with it, and so do the
    /// chunk's candidate scales (itry + −127)/max, except the one both signs share, so the chunk's bytes change only
    /// for blocks whose best scale is another candidate: rows are searched for such blocks.
    /// </summary>
    [Fact]
    public void FirstOfEqualMagnitudesSetsTheSign()
    {
        int found = 0;
        for (ulong seed = 1; seed < 100 && found < 3; seed++)
        {
            float[] x = TestData.Gaussian(seed, 32 * 16, 1.0);
            for (int b = 0; b < 16; b++)
            {
                x[32 * b + 3] = 5f;
                x[32 * b + 20] = -5f;
            }

            byte[] ours = Quantize(QuantType.IQ4_NL, x);
            var reference = new byte[ours.Length];
            IQ4_NLReference.QuantizeRowRef(x, reference);
            Assert.Equal(ours, Variant7(x, s_ggml));
            Assert.Equal(reference, Variant7(x, new Variant(Ntry: -1)));
            Assert.NotEqual(reference, Variant7(x, new Variant(Ntry: -1, LastMaxWins: true)));
            if (GgmlNative.IsByteReference)
            {
                Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ4_NL, x, x.Length), ours);
                Assert.Equal(GgmlNative.QuantizeRowRef("iq4_nl", (int)QuantType.IQ4_NL, x), reference);
            }

            if (!ours.AsSpan().SequenceEqual(Variant7(x, new Variant(LastMaxWins: true))))
            {
                found++;
            }
        }

        Assert.True(found > 0, "no row where the last maximum changes the chunk bytes");
    }

    /// <summary>
    /// IQ4_XS: sub-block 5 is sub-block 4 negated (its scale is exactly the negated one), both larger than the rest;
    /// the first sets the sign of the super-block d, and the other's 6-bit scale is clamped from +32 to 31.
    /// </summary>
    [Fact]
    public void XsFirstOfEqualScaleMagnitudesSetsTheSign()
    {
        var x = new float[256];
        for (int j = 0; j < 256; j++)
        {
            x[j] = MathF.Sin(j * 0.7f) * 0.3f;
        }

        for (int j = 0; j < 32; j++)
        {
            x[128 + j] *= 4f;
            x[160 + j] = -x[128 + j];
        }

        byte[] ours = Quantize(QuantType.IQ4_XS, x);
        var xs = System.Runtime.InteropServices.MemoryMarshal.Read<BlockIQ4_XS>(ours);
        Assert.Equal(0, xs.Scale(4));  // l = −32
        Assert.Equal(63, xs.Scale(5)); // l = +32 clamped to 31
        Assert.Equal(ours, VariantXs(x, s_ggml));
        Assert.NotEqual(ours, VariantXs(x, new Variant(LastMaxWins: true)));
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ4_XS, x, 256), ours);
        }
    }

    // ---- IQ4_XS: dl = d·l with the unrounded float d ----

    [Fact]
    public void XsSubBlockScaleUsesTheUnroundedD()
    {
        // Find rows where FP16(d)·l instead of d·l changes a code, and check them against ggml.
        int found = 0;
        for (ulong seed = 1; seed < 200 && found < 3; seed++)
        {
            float[] x = TestData.Gaussian(seed, 4096, 1.0);
            byte[] ours = Quantize(QuantType.IQ4_XS, x);
            Assert.Equal(ours, VariantXs(x, s_ggml));
            if (ours.AsSpan().SequenceEqual(VariantXs(x, new Variant(RoundedScaleInDl: true))))
            {
                continue;
            }

            found++;
            if (GgmlNative.IsByteReference)
            {
                Assert.Equal(GgmlNative.QuantizeChunk((int)QuantType.IQ4_XS, x, 4096), ours);
            }
        }

        Assert.True(found > 0, "no input where the rounded d changes the bytes");
    }

    // ---- the ref's stale codes for a block below 1e-15 ----

    [Fact]
    public void RefKeepsThePreviousBlocksCodesForANegligibleBlock()
    {
        float[] x = new float[96];
        for (int j = 0; j < 32; j++)
        {
            x[j] = MathF.Cos(j * 1.3f) * 2f;
            x[64 + j] = MathF.Sin(j * 0.9f);
        }

        for (int j = 32; j < 64; j++)
        {
            x[j] = 1e-17f * (j % 3);
        }

        var ours = new byte[3 * BlockIQ4_NL.Size];
        IQ4_NLReference.QuantizeRowRef(x, ours);
        Assert.Equal(0, BitConverter.ToUInt16(ours, BlockIQ4_NL.Size)); // d = 0 ...
        Assert.Equal(ours.AsSpan(2, 16).ToArray(), ours.AsSpan(BlockIQ4_NL.Size + 2, 16).ToArray()); // ... and block 0's codes

        Assert.Equal(ours, Variant7(x, new Variant(Ntry: -1)));
        Assert.NotEqual(ours, Variant7(x, new Variant(Ntry: -1, ClearStaleCodes: true)));
        if (GgmlNative.IsByteReference)
        {
            Assert.Equal(GgmlNative.QuantizeRowRef("iq4_nl", (int)QuantType.IQ4_NL, x), ours);
        }

        // The chunk quantizer (ntry = 7) recomputes the codes with id = 0: every code is best_index_int8(0) = 8.
        byte[] chunk = Quantize(QuantType.IQ4_NL, x);
        Assert.All(chunk.AsSpan(BlockIQ4_NL.Size + 2, 16).ToArray(), b => Assert.Equal(0x88, b));
    }

    private static byte[] Quantize(QuantType type, float[] x)
    {
        var bytes = new byte[Quantizer.GetByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, bytes, x.Length);
        return bytes;
    }

    // ---- a test-local port of quantize_row_iq4_nl_impl with switches ----

    private static byte[] Variant7(float[] x, Variant v)
    {
        var bytes = new byte[x.Length / 32 * BlockIQ4_NL.Size];
        var L = new byte[32];
        for (int ib = 0; ib < x.Length / 32; ib++)
        {
            Block(x.AsSpan(32 * ib, 32), v, L, out ushort dh, bytes.AsSpan(ib * BlockIQ4_NL.Size + 2, 16), default);
            BitConverter.TryWriteBytes(bytes.AsSpan(ib * BlockIQ4_NL.Size), dh);
        }

        return bytes;
    }

    private static byte[] VariantXs(float[] x, Variant v)
    {
        var bytes = new byte[x.Length / 256 * BlockIQ4_XS.Size];
        var L = new byte[256];
        for (int ibl = 0; ibl < x.Length / 256; ibl++)
        {
            Span<byte> y = bytes.AsSpan(ibl * BlockIQ4_XS.Size, BlockIQ4_XS.Size);
            Block(x.AsSpan(256 * ibl, 256), v, L, out ushort dh, y[8..], y[2..8]);
            BitConverter.TryWriteBytes(y, dh);
        }

        return bytes;
    }

    // FP16 stores go through the library's Fp16.FromSingle, which writes x86's default-NaN sign on every architecture.
    private static int BestIndex(float x, Variant v)
    {
        if (v.BranchlessBestIndex)
        {
            float x2 = x + x;
            int idx = 0;
            for (int step = 8; step > 0; step >>= 1)
            {
                int j = idx + step;
                idx = x2 >= (float)(s_values[j - 1] + s_values[j]) ? j : idx;
            }

            return idx;
        }

        if (x <= s_values[0])
        {
            return 0;
        }

        if (x >= s_values[15])
        {
            return 15;
        }

        int ml = 0, mu = 15;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < s_values[mav])
            {
                mu = mav;
            }
            else
            {
                ml = mav;
            }
        }

        float below = x - s_values[mu - 1], above = s_values[mu] - x;
        return v.TiesDown ? (below <= above ? mu - 1 : mu) : (below < above ? mu - 1 : mu);
    }

    /// <summary>One super-block; <paramref name="scales"/> (6 bytes: scales_h then scales_l) is empty for IQ4_NL.</summary>
    private static void Block(ReadOnlySpan<float> x, Variant v, byte[] L, out ushort dh, Span<byte> q4, Span<byte> scales)
    {
        int nb = x.Length / 32;
        var blockScales = new float[nb];
        var weight = new float[32];
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < nb; ib++)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
            for (int j = 0; j < 32; j++)
            {
                weight[j] = xb[j] * xb[j];
            }

            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax || (v.LastMaxWins && ax == amax && ax != 0))
                {
                    amax = ax;
                    max = xb[j];
                }
            }

            if (amax < 1e-15f)
            {
                blockScales[ib] = 0;
                if (v.ClearStaleCodes)
                {
                    Array.Clear(L, 32 * ib, 32);
                }

                continue;
            }

            float d = v.Ntry > 0 ? -max / s_values[0] : max / s_values[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++)
            {
                int l = BestIndex(id * xb[j], v);
                L[32 * ib + j] = (byte)l;
                float q = s_values[l];
                sumqx += weight[j] * q * xb[j];
                sumq2 += weight[j] * q * q;
            }

            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            for (int itry = -v.Ntry; itry <= v.Ntry; itry++)
            {
                id = (itry + s_values[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < 32; j++)
                {
                    float q = s_values[BestIndex(id * xb[j], v)];
                    sumqx += weight[j] * q * xb[j];
                    sumq2 += weight[j] * q * q;
                }

                if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }

            blockScales[ib] = d;
            float absD = MathF.Abs(d);
            if (absD > amaxScale || (v.LastMaxWins && absD == amaxScale && absD != 0))
            {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (nb > 1)
        {
            float d = -maxScale / 32;
            dh = Fp16.FromSingle(d);
            float dForL = v.RoundedScaleInDl ? (float)(Half)d : d;
            float id = d != 0 ? 1 / d : 0f;
            ushort scalesH = 0;
            scales.Clear();
            for (int ib = 0; ib < nb; ib++)
            {
                float t = id * blockScales[ib] + 12582912f;
                int l = (BitConverter.SingleToInt32Bits(t) & 0x007FFFFF) - 0x00400000;
                l = Math.Max(-32, Math.Min(31, l));
                float dl = dForL * l;
                float idl = dl != 0 ? 1 / dl : 0f;
                for (int j = 0; j < 32; j++)
                {
                    L[32 * ib + j] = (byte)BestIndex(idl * x[32 * ib + j], v);
                }

                l += 32;
                scales[2 + ib / 2] |= (byte)((l & 0xF) << (4 * (ib % 2)));
                scalesH |= (ushort)((l >> 4) << (2 * ib));
            }

            BitConverter.TryWriteBytes(scales, scalesH);
        }
        else
        {
            dh = Fp16.FromSingle(blockScales[0]);
            if (v.Ntry > 0)
            {
                float id = blockScales[0] != 0 ? 1 / blockScales[0] : 0;
                for (int j = 0; j < 32; j++)
                {
                    L[j] = (byte)BestIndex(id * x[j], v);
                }
            }
        }

        for (int i = 0; i < nb; i++)
        {
            for (int j = 0; j < 16; j++)
            {
                q4[16 * i + j] = (byte)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
            }
        }
    }
}
