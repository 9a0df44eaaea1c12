using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The non-linear 4-bit search shared by IQ4_NL and IQ4_XS: ggml's <c>quantize_row_iq4_nl_impl</c> and
/// <c>best_index_int8</c> (docs/formats.md#iq4-search), in float32, in ggml's operation order, with no fused multiply-add.
/// </summary>
internal static class Iq4Search
{
    /// <summary>ggml's <c>kvalues_iq4nl</c>: the 16 levels, sorted.</summary>
    public static ReadOnlySpan<sbyte> Values => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>
    /// kvalues_iq4nl[code] for 16 codes (each 0..15) at once: one byte shuffle (pshufb on x86, TBL on arm64),
    /// the portable shuffle elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Lookup(Vector128<byte> codes)
    {
        Vector128<sbyte> table = Vector128.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        if (Ssse3.IsSupported)
        {
            return Ssse3.Shuffle(table, codes.AsSByte());
        }

        if (AdvSimd.Arm64.IsSupported)
        {
            return AdvSimd.Arm64.VectorTableLookup(table.AsByte(), codes).AsSByte();
        }

        return Vector128.Shuffle(table, codes.AsSByte());
    }

    /// <summary>Dequantizes one 32-value sub-block: y = scale·kvalues_iq4nl[code], nibbles in Q4_0 order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dequantize32(ref readonly byte qs, float scale, ref float y)
    {
        // scale·(float)value, as ggml's d·kvalues[q] (a single product, commutative to the bit).
        var op = new ScaleValueOp(0, scale);
        Block32.SplitNibbles(Vector128.LoadUnsafe(in qs), out Vector128<byte> lo, out Vector128<byte> hi);
        Block32.Values16(Lookup(lo), op, ref y);
        Block32.Values16(Lookup(hi), op, ref Unsafe.Add(ref y, 16));
    }

    /// <summary>The 32 values of one sub-block.</summary>
    public const int BlockSize = 32;

    /// <summary>
    /// <c>best_index_int8(16, kvalues_iq4nl, x)</c> as the oracle's ggml has it: 0 at or below the first level, 15 at
    /// or above the last, otherwise a binary search for the bracketing pair and the lower index only when
    /// <c>x − lo &lt; hi − x</c> (an exact tie goes up). A NaN fails every comparison and so lands on 15.
    /// (Newer ggml replaced it with a branchless search over doubled midpoints that sends NaN to 0.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BestIndex(float x)
    {
        ReadOnlySpan<sbyte> val = Values;
        if (x <= val[0])
        {
            return 0;
        }

        if (x >= val[15])
        {
            return 15;
        }

        int ml = 0, mu = 15;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < val[mav])
            {
                mu = mav;
            }
            else
            {
                ml = mav;
            }
        }

        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }

    /// <summary>
    /// <c>quantize_row_iq4_nl_impl(super_block_size, 32, x, ...)</c> for one super-block of <paramref name="x"/>.Length values
    /// (32 for IQ4_NL, 256 for IQ4_XS). Writes the FP16 scale, the packed nibbles and, with more than one sub-block, the
    /// 6-bit sub-block scales. <paramref name="L"/> (one code per value) persists between calls as ggml's array does:
    /// with ntry ≤ 0 a block below the epsilon keeps the codes of the previous call (the ref's stale-L quirk).
    /// </summary>
    /// <param name="x">One super-block.</param>
    /// <param name="qw">Empty, or the importance weights of this super-block.</param>
    /// <param name="ntry">7 for <c>quantize_iq4_nl</c> / <c>quantize_iq4_xs</c>, −1 for <c>quantize_row_iq4_nl_ref</c>.</param>
    /// <param name="dh">The FP16 super-block scale.</param>
    /// <param name="q4">x.Length / 2 bytes of nibbles.</param>
    /// <param name="scalesH">The high scale bits (IQ4_XS); untouched for a single sub-block.</param>
    /// <param name="scalesL">x.Length / 64 bytes of low scale bits (IQ4_XS); empty for a single sub-block.</param>
    /// <param name="L">Scratch of x.Length codes, kept between calls (see above).</param>
    public static void QuantizeSuperBlock(ReadOnlySpan<float> x, ReadOnlySpan<float> qw, int ntry,
                                          out ushort dh, Span<byte> q4, ref ushort scalesH, Span<byte> scalesL, Span<byte> L)
    {
        ReadOnlySpan<sbyte> values = Values;
        int superBlockSize = x.Length;
        int nb = superBlockSize / BlockSize;
        Span<float> scales = stackalloc float[nb];
        Span<float> weight = stackalloc float[BlockSize];

        float sigma2 = 0;
        for (int j = 0; j < superBlockSize; ++j)
        {
            sigma2 += x[j] * x[j];
        }

        sigma2 *= 2.0f / superBlockSize;

        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < nb; ++ib)
        {
            ReadOnlySpan<float> xb = x.Slice(ib * BlockSize, BlockSize);
            Span<byte> Lb = L.Slice(ib * BlockSize, BlockSize);
            if (!qw.IsEmpty)
            {
                ReadOnlySpan<float> qwb = qw.Slice(ib * BlockSize, BlockSize);
                for (int j = 0; j < BlockSize; ++j)
                {
                    weight[j] = qwb[j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
                }
            }
            else
            {
                for (int j = 0; j < BlockSize; ++j)
                {
                    weight[j] = xb[j] * xb[j];
                }
            }

            float amax = 0, max = 0;
            for (int j = 0; j < BlockSize; ++j)
            {
                float ax = MathF.Abs(xb[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = xb[j];
                }
            }

            if (amax < QuantSearch.GroupMaxEps)
            {
                scales[ib] = 0;
                continue;
            }

            float d = ntry > 0 ? -max / values[0] : max / values[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < BlockSize; ++j)
            {
                float al = id * xb[j];
                int l = BestIndex(al);
                Lb[j] = (byte)l;
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }

            // The oracle's ggml guards this division (older ggml did not): a NaN or zero sumq2 gives d = 0.
            d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; ++itry)
            {
                id = (itry + values[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < BlockSize; ++j)
                {
                    float al = id * xb[j];
                    float q = values[BestIndex(al)];
                    float w = weight[j];
                    sumqx += w * q * xb[j];
                    sumq2 += w * q * q;
                }

                if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
                {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }

            scales[ib] = d;
            float absD = MathF.Abs(d);
            if (absD > amaxScale)
            {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (nb > 1)
        {
            scalesH = 0;
            float d = -maxScale / 32;
            dh = Fp16.FromSingle(d);
            float id = d != 0 ? 1 / d : 0.0f;
            for (int ib = 0; ib < nb; ++ib)
            {
                int l = Rounding.NearestInt(id * scales[ib]);
                l = Math.Max(-32, Math.Min(31, l));
                float dl = d * l; // the unrounded d, not FP16(d)
                float idl = dl != 0 ? 1 / dl : 0.0f;
                ReadOnlySpan<float> xb = x.Slice(ib * BlockSize, BlockSize);
                Span<byte> Lb = L.Slice(ib * BlockSize, BlockSize);
                for (int j = 0; j < BlockSize; ++j)
                {
                    Lb[j] = (byte)BestIndex(idl * xb[j]);
                }

                l += 32;
                int lLow = l & 0xF;
                int lHigh = l >> 4;
                if (ib % 2 == 0)
                {
                    scalesL[ib / 2] = (byte)lLow;
                }
                else
                {
                    scalesL[ib / 2] |= (byte)(lLow << 4);
                }

                scalesH |= (ushort)(lHigh << (2 * (ib % 8)));
            }
        }
        else
        {
            dh = Fp16.FromSingle(scales[0]);
            if (ntry > 0)
            {
                float id = scales[0] != 0 ? 1 / scales[0] : 0;
                for (int j = 0; j < superBlockSize; ++j)
                {
                    L[j] = (byte)BestIndex(id * x[j]);
                }
            }
        }

        for (int i = 0; i < superBlockSize / 32; ++i)
        {
            for (int j = 0; j < 16; ++j)
            {
                q4[16 * i + j] = (byte)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
            }
        }
    }
}
