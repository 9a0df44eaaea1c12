using System.Runtime.CompilerServices;

namespace Quantization.Kernels;

/// <summary>
/// ggml's scale searches (docs/formats.md#scale-searches), shared by the importance-weighted legacy quantizers and the K-quants.
/// Plain float32 in ggml's exact operation order, no fused multiply-add: the bytes depend on every rounding.
/// </summary>
internal static class QuantSearch
{
    /// <summary>ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it quantizes to zero.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>
    /// <c>make_qx_quants</c>: symmetric codes L in [0, 2·nmax) with a signed scale (returned).
    /// <paramref name="weights"/> empty means the rmse_type default weight.
    /// </summary>
    public static float MakeQxQuants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L, int rmseType, ReadOnlySpan<float> weights)
    {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax)
            {
                amax = ax;
                max = x[i];
            }
        }

        if (amax < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }

        float iscale = -nmax / max;
        if (rmseType == 0)
        {
            for (int i = 0; i < n; ++i)
            {
                int l = Rounding.NearestInt(iscale * x[i]);
                L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
            }

            return 1 / iscale;
        }

        bool returnEarly = false;
        if (rmseType < 0)
        {
            rmseType = -rmseType;
            returnEarly = true;
        }

        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i)
        {
            int l = Rounding.NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
            float w = Weight(x[i], i, rmseType, weights);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }

        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly)
        {
            return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        }

        float best = scale * sumlx;
        for (int step = -9; step <= 9; ++step)
        {
            if (step == 0)
            {
                continue;
            }

            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; ++i)
            {
                int l = Rounding.NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                float w = Weight(x[i], i, rmseType, weights);
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }

            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; ++i)
                {
                    int l = Rounding.NearestInt(iscale * x[i]);
                    L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
                }

                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }

        return scale;
    }

    private static float Weight(float x, int i, int rmseType, ReadOnlySpan<float> weights) =>
        !weights.IsEmpty ? weights[i]
        : rmseType == 1 ? x * x
        : rmseType == 2 ? 1
        : rmseType == 3 ? MathF.Abs(x)
        : MathF.Sqrt(MathF.Abs(x));

    /// <summary>
    /// <c>make_qkx3_quants</c>: affine codes L in [0, nmax] with a scale (returned) and a min (<paramref name="theMin"/>,
    /// positive, subtracted). The running min is updated inside the search, as in ggml.
    /// <paramref name="weights"/> empty means x² weights.
    /// </summary>
    public static float MakeQkx3Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L,
                                       out float theMin, Span<byte> Laux, float rmin, float rdelta, int nstep, bool useMad)
    {
        bool hasWeights = !weights.IsEmpty;
        float min = x[0];
        float max = x[0];
        float sumW = hasWeights ? weights[0] : x[0] * x[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; ++i)
        {
            if (x[i] < min)
            {
                min = x[i];
            }

            if (x[i] > max)
            {
                max = x[i];
            }

            float w = hasWeights ? weights[i] : x[i] * x[i];
            sumW += w;
            sumX += w * x[i];
        }

        if (min > 0)
        {
            min = 0;
        }

        if (max <= min)
        {
            L[..n].Clear();
            theMin = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; ++i)
        {
            int l = Rounding.NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            float w = hasWeights ? weights[i] : x[i] * x[i];
            bestMad += w * diff;
        }

        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }

        for (int step = 0; step <= nstep; ++step)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; ++i)
            {
                // min is the best fit so far and can sit at or near max: guard v before rounding.
                float v = iscale * (x[i] - min);
                int l = v > 0 ? Rounding.NearestInt(MathF.Min(v, nmax)) : 0;
                Laux[i] = (byte)l;
                float w = hasWeights ? weights[i] : x[i] * x[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }

            if (FitScaleMin(sumW, sumX, sumL, sumL2, sumXL, out float thisScale, out float thisMin))
            {
                float mad = FitError(n, x, weights, hasWeights, Laux, thisScale, thisMin, useMad);
                if (mad < bestMad)
                {
                    Laux[..n].CopyTo(L);
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }

        theMin = -min;
        return scale;
    }

    /// <summary>
    /// <c>make_qkx2_quants</c>: affine codes L in [0, nmax] with explicit weights; the scale is returned and the min
    /// (positive, subtracted) set in <paramref name="theMin"/>. The running min is updated inside the search.
    /// </summary>
    public static float MakeQkx2Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L,
                                       out float theMin, Span<byte> Laux, float rmin, float rdelta, int nstep, bool useMad)
    {
        float min = x[0];
        float max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; ++i)
        {
            if (x[i] < min)
            {
                min = x[i];
            }

            if (x[i] > max)
            {
                max = x[i];
            }

            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }

        if (min > 0)
        {
            min = 0;
        }

        if (max == min)
        {
            L[..n].Clear();
            theMin = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i)
        {
            int l = Rounding.NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }

        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }

        for (int step = 0; step <= nstep; ++step)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; ++i)
            {
                int l = Rounding.NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                Laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }

            if (FitScaleMin(sumW, sumX, sumL, sumL2, sumXL, out float thisScale, out float thisMin))
            {
                float curError = FitError(n, x, weights, hasWeights: true, Laux, thisScale, thisMin, useMad);
                if (curError < bestError)
                {
                    Laux[..n].CopyTo(L);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }

        theMin = -min;
        return scale;
    }

    /// <summary>
    /// One step of the qkx searches: the weighted least-squares scale and min of the trial codes from their sums (a
    /// positive min is clamped to 0 and the scale refitted alone), in ggml's operation order; false when the system is
    /// singular (D ≤ 0) and the step is skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool FitScaleMin(float sumW, float sumX, float sumL, float sumL2, float sumXL, out float scale, out float min)
    {
        float D = sumW * sumL2 - sumL * sumL;
        if (D <= 0)
        {
            scale = min = 0;
            return false;
        }

        scale = (sumW * sumXL - sumX * sumL) / D;
        min = (sumL2 * sumX - sumL * sumXL) / D;
        if (min > 0)
        {
            min = 0;
            scale = sumXL / sumL2;
        }

        return true;
    }

    /// <summary>Σ w·|scale·L + min − x| (<paramref name="useMad"/>) or Σ w·(scale·L + min − x)², w the weights or x².</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float FitError(int n, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, bool hasWeights, ReadOnlySpan<byte> L,
                                  float scale, float min, bool useMad)
    {
        float error = 0;
        for (int i = 0; i < n; ++i)
        {
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            float w = hasWeights ? weights[i] : x[i] * x[i];
            error += w * diff;
        }

        return error;
    }

    /// <summary>
    /// <c>make_q3_quants</c>: symmetric codes in [0, 2·nmax) with a signed scale; with <paramref name="doRmse"/> up to
    /// five sweeps of coordinate descent on x²-weighted error.
    /// </summary>
    public static float MakeQ3Quants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L, bool doRmse)
    {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax)
            {
                amax = ax;
                max = x[i];
            }
        }

        if (amax < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }

        float iscale = -nmax / max;
        if (doRmse)
        {
            float sumlx = 0;
            float suml2 = 0;
            for (int i = 0; i < n; ++i)
            {
                int l = Rounding.NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                L[i] = (sbyte)l;
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }

            for (int itry = 0; itry < 5; ++itry)
            {
                int changed = 0;
                for (int i = 0; i < n; ++i)
                {
                    float w = x[i] * x[i];
                    float slx = sumlx - w * x[i] * L[i];
                    if (slx > 0)
                    {
                        float sl2 = suml2 - w * L[i] * L[i];
                        int newL = Rounding.NearestInt(x[i] * sl2 / slx);
                        newL = Math.Max(-nmax, Math.Min(nmax - 1, newL));
                        if (newL != L[i])
                        {
                            slx += w * x[i] * newL;
                            sl2 += w * newL * newL;
                            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                            {
                                L[i] = (sbyte)newL;
                                sumlx = slx;
                                suml2 = sl2;
                                ++changed;
                            }
                        }
                    }
                }

                if (changed == 0)
                {
                    break;
                }
            }

            for (int i = 0; i < n; ++i)
            {
                L[i] += (sbyte)nmax;
            }

            return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
        }

        for (int i = 0; i < n; ++i)
        {
            int l = Rounding.NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
        }

        return 1 / iscale;
    }

    /// <summary>
    /// <c>make_qp_quants</c>: non-negative values (sub-block scales or mins) to codes in [0, nmax] under
    /// <paramref name="weights"/>: a scale sweep, then up to five sweeps of coordinate descent.
    /// </summary>
    public static float MakeQpQuants(int n, int nmax, ReadOnlySpan<float> x, Span<byte> L, ReadOnlySpan<float> weights)
    {
        float max = 0;
        for (int i = 0; i < n; ++i)
        {
            max = max > x[i] ? max : x[i]; // C's MAX macro, literally
        }

        if (max < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }

        float iscale = nmax / max;
        for (int i = 0; i < n; ++i)
        {
            L[i] = (byte)Rounding.NearestInt(iscale * x[i]);
        }

        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; ++i)
        {
            float diff = x[i] - scale * L[i];
            bestMse += weights[i] * diff * diff;
        }

        for (int step = -4; step <= 4; ++step)
        {
            if (step == 0)
            {
                continue;
            }

            float iscaleIs = (0.1f * step + nmax) / max;
            float scaleIs = 1 / iscaleIs;
            float mse = 0;
            for (int i = 0; i < n; ++i)
            {
                int l = Rounding.NearestInt(iscaleIs * x[i]);
                l = Math.Min(nmax, l);
                float diff = x[i] - scaleIs * l;
                mse += weights[i] * diff * diff;
            }

            if (mse < bestMse)
            {
                bestMse = mse;
                iscale = iscaleIs;
            }
        }

        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i)
        {
            int l = Rounding.NearestInt(iscale * x[i]);
            l = Math.Min(nmax, l);
            L[i] = (byte)l;
            float w = weights[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }

        for (int itry = 0; itry < 5; ++itry)
        {
            int changed = 0;
            for (int i = 0; i < n; ++i)
            {
                float w = weights[i];
                float slx = sumlx - w * x[i] * L[i];
                float sl2 = suml2 - w * L[i] * L[i];
                if (slx > 0 && sl2 > 0)
                {
                    int newL = Rounding.NearestInt(x[i] * sl2 / slx);
                    newL = Math.Min(nmax, newL);
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (byte)newL;
                            sumlx = slx;
                            suml2 = sl2;
                            ++changed;
                        }
                    }
                }
            }

            if (changed == 0)
            {
                break;
            }
        }

        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /// <summary>σ² of the importance paths: Σx² over the row accumulated in order, divided by the row length.</summary>
    public static float RowSigma2(ReadOnlySpan<float> row)
    {
        float sumX2 = 0;
        for (int j = 0; j < row.Length; ++j)
        {
            sumX2 += row[j] * row[j];
        }

        return sumX2 / row.Length;
    }

    /// <summary>Importance weights w = qw·sqrt(σ² + x²) of one block.</summary>
    public static void ImportanceWeights(ReadOnlySpan<float> xb, ReadOnlySpan<float> qw, float sigma2, Span<float> weight)
    {
        for (int j = 0; j < xb.Length; ++j)
        {
            weight[j] = qw[j] * MathF.Sqrt(sigma2 + xb[j] * xb[j]);
        }
    }
}
