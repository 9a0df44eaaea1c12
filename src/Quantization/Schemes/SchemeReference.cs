using CommunityToolkit.HighPerformance.Buffers;

namespace Quantization.Schemes;

/// <summary>
/// The scalar reference of the schemes (docs/formats.md#quantization-schemes): float32 arithmetic in the order written
/// there, without fused multiply-add, rounding half to even. <see cref="SchemeKernel"/> gives the same bytes and floats.
/// </summary>
internal static class SchemeReference
{
    /// <summary>The largest magnitude of the codes of a symmetric integer scheme: 2^(bits−1) − 1.</summary>
    public static int SymmetricMax(int bits) => (1 << (bits - 1)) - 1;

    /// <summary>The implicit zero point of a symmetric integer scheme, 2^(bits−1): codes are stored offset by it.</summary>
    public static int SymmetricZero(int bits) => 1 << (bits - 1);

    /// <summary>The largest integer code, 2^bits − 1.</summary>
    public static int CodeMax(int bits) => (1 << bits) - 1;

    /// <summary>The largest magnitude of an FP8 element.</summary>
    public static float Fp8Max(SchemeElement element) => element == SchemeElement.Fp8E4M3 ? Fp8E4M3.MaxValue : Fp8E5M2.MaxValue;

    /// <summary>
    /// Scale and zero point from a group's statistics: <paramref name="amax"/> (max |w|) for symmetric and FP8 schemes,
    /// <paramref name="min"/> and <paramref name="max"/> (already widened to include 0) for asymmetric ones. The scale is
    /// returned as stored (rounded to the scale type).
    /// </summary>
    public static float ScaleOf(QuantScheme scheme, float amax, float min, float max, out int zero)
    {
        zero = 0;
        if (scheme.Element != SchemeElement.Integer)
        {
            return SchemeScales.Round(scheme.ScaleType, amax / Fp8Max(scheme.Element));
        }

        if (scheme.Symmetric)
        {
            zero = SymmetricZero(scheme.Bits);
            return SchemeScales.Round(scheme.ScaleType, amax / SymmetricMax(scheme.Bits));
        }

        float scale = SchemeScales.Round(scheme.ScaleType, (max - min) / CodeMax(scheme.Bits));
        if (scale != 0)
        {
            zero = (int)Math.Clamp(MathF.Round(-min / scale), 0f, CodeMax(scheme.Bits));
        }

        return scale;
    }

    /// <summary>The code of <paramref name="x"/> under a scale (as stored) and zero point; a zero scale gives the code of 0.</summary>
    public static byte CodeOf(QuantScheme scheme, float x, float scale, int zero)
    {
        switch (scheme.Element)
        {
            case SchemeElement.Fp8E4M3:
                return scale == 0 ? (byte)0 : Fp8E4M3.FromSingle(x / scale);
            case SchemeElement.Fp8E5M2:
                return scale == 0 ? (byte)0 : Fp8E5M2.FromSingle(x / scale);
        }

        if (scale == 0)
        {
            return (byte)zero;
        }

        float q = MathF.Round(x / scale); // half to even
        if (scheme.Symmetric)
        {
            int qmax = SymmetricMax(scheme.Bits);
            return (byte)((int)Math.Clamp(q, -qmax, qmax) + zero);
        }

        return (byte)(int)Math.Clamp(q + zero, 0f, CodeMax(scheme.Bits));
    }

    /// <summary>The value of a code: (code − zero) · scale for integers, FP8(code) · scale otherwise.</summary>
    public static float ValueOf(QuantScheme scheme, int code, float scale, int zero) => scheme.Element switch
    {
        SchemeElement.Fp8E4M3 => Fp8E4M3.ToSingle((byte)code) * scale,
        SchemeElement.Fp8E5M2 => Fp8E5M2.ToSingle((byte)code) * scale,
        _ => (code - zero) * scale,
    };

    /// <summary>Quantizes a rows × columns tensor (finite values, lengths checked by the caller).</summary>
    public static void Quantize(in SchemeLayout layout, ReadOnlySpan<float> x, Span<byte> destination)
    {
        QuantScheme scheme = layout.Scheme;
        int scales = checked((int)layout.ScaleCount);
        using SpanOwner<float> lowOwner = SpanOwner<float>.Allocate(scales);
        using SpanOwner<float> highOwner = SpanOwner<float>.Allocate(scales);
        Span<float> low = lowOwner.Span;   // amax (symmetric) or min (asymmetric), widened to include 0
        Span<float> high = highOwner.Span; // max (asymmetric)
        low.Clear();
        high.Clear();
        for (int r = 0; r < layout.Rows; r++)
        {
            for (int g = 0; g < layout.GroupsPerRow; g++)
            {
                int start = g * layout.GroupLength;
                ReadOnlySpan<float> group = x.Slice(r * layout.Columns + start, Math.Min(layout.GroupLength, layout.Columns - start));
                int s = (int)layout.ScaleIndex(r, g);
                foreach (float v in group)
                {
                    if (scheme.Symmetric)
                    {
                        low[s] = MathF.Max(low[s], MathF.Abs(v));
                    }
                    else
                    {
                        low[s] = MathF.Min(low[s], v);
                        high[s] = MathF.Max(high[s], v);
                    }
                }
            }
        }

        WriteScales(layout, low, high, destination);
        using SpanOwner<byte> codeOwner = SpanOwner<byte>.Allocate(layout.GroupLength);
        Span<byte> codes = codeOwner.Span;
        for (int r = 0; r < layout.Rows; r++)
        {
            Span<byte> row = destination.Slice(r * layout.RowCodeBytes, layout.RowCodeBytes);
            for (int g = 0; g < layout.GroupsPerRow; g++)
            {
                int start = g * layout.GroupLength;
                int length = Math.Min(layout.GroupLength, layout.Columns - start);
                long s = layout.ScaleIndex(r, g);
                float scale = low[(int)s];
                int zero = (int)high[(int)s];
                ReadOnlySpan<float> group = x.Slice(r * layout.Columns + start, length);
                for (int i = 0; i < length; i++)
                {
                    codes[i] = CodeOf(scheme, group[i], scale, zero);
                }

                SchemeCodes.Pack(scheme.Bits, codes[..length], row, start);
            }
        }
    }

    /// <summary>
    /// Turns the statistics into scales (written to the scale section) and zero points (written to their section when the
    /// scheme stores them), leaving the stored scale in <paramref name="low"/> and the zero point in <paramref name="high"/>.
    /// </summary>
    public static void WriteScales(in SchemeLayout layout, Span<float> low, Span<float> high, Span<byte> destination)
    {
        QuantScheme scheme = layout.Scheme;
        Span<byte> scaleBytes = destination[(int)layout.ScalesOffset..(int)layout.ZeroPointsOffset];
        Span<byte> zeroBytes = destination[(int)layout.ZeroPointsOffset..];
        for (int s = 0; s < low.Length; s++)
        {
            float scale = ScaleOf(scheme, low[s], low[s], high[s], out int zero);
            SchemeScales.Write(scheme.ScaleType, scaleBytes, s, scale);
            if (scheme.HasZeroPoints)
            {
                zeroBytes[s] = (byte)zero;
            }

            low[s] = scale;
            high[s] = zero;
        }
    }

    /// <summary>Dequantizes a rows × columns tensor (lengths checked by the caller).</summary>
    public static void Dequantize(in SchemeLayout layout, ReadOnlySpan<byte> source, Span<float> destination)
    {
        QuantScheme scheme = layout.Scheme;
        for (int r = 0; r < layout.Rows; r++)
        {
            ReadOnlySpan<byte> row = source.Slice(r * layout.RowCodeBytes, layout.RowCodeBytes);
            for (int c = 0; c < layout.Columns; c++)
            {
                long s = layout.ScaleIndex(r, c / layout.GroupLength);
                float scale = SchemeScales.Read(scheme.ScaleType, source[(int)layout.ScalesOffset..], s);
                int zero = ZeroPoint(layout, source, s);
                destination[r * layout.Columns + c] = ValueOf(scheme, SchemeCodes.Get(scheme.Bits, row, c), scale, zero);
            }
        }
    }

    /// <summary>The zero point of scale <paramref name="index"/>: stored, 2^(bits−1) for symmetric integers, 0 for FP8.</summary>
    public static int ZeroPoint(in SchemeLayout layout, ReadOnlySpan<byte> tensor, long index)
    {
        QuantScheme scheme = layout.Scheme;
        if (scheme.Element != SchemeElement.Integer)
        {
            return 0;
        }

        return scheme.HasZeroPoints ? tensor[(int)(layout.ZeroPointsOffset + index)] : SymmetricZero(scheme.Bits);
    }
}
