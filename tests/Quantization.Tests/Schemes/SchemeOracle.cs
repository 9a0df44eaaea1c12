using Quantization.Schemes;

namespace Quantization.Tests.Schemes;

/// <summary>
/// An independent restatement of the schemes from docs/formats.md#quantization-schemes: statistics in double, each float32
/// operation of the description computed in double and rounded to float (which gives the correctly rounded float32
/// result), NumPy's round (half to even) through <see cref="Math.Round(double)"/>, FP8 codes from the exhaustive-search model
/// of <see cref="Fp8Tests.Format"/>, and the bit stream written bit by bit.
/// </summary>
public static class SchemeOracle
{
    public static int GroupLength(QuantScheme s, int columns) =>
        s.Granularity is SchemeGranularity.Group or SchemeGranularity.Block2D ? s.GroupSize : columns;

    public static int ScaleIndex(QuantScheme s, int rows, int columns, int r, int c)
    {
        int length = GroupLength(s, columns);
        int perRow = (columns + length - 1) / length;
        return s.Granularity switch
        {
            SchemeGranularity.Tensor => 0,
            SchemeGranularity.Row => r,
            SchemeGranularity.Group => r * perRow + c / length,
            _ => r / s.GroupSize * perRow + c / length,
        };
    }

    public static int ScaleCount(QuantScheme s, int rows, int columns)
    {
        int length = GroupLength(s, columns);
        int perRow = (columns + length - 1) / length;
        return s.Granularity switch
        {
            SchemeGranularity.Tensor => 1,
            SchemeGranularity.Row => rows,
            SchemeGranularity.Group => rows * perRow,
            _ => (rows + s.GroupSize - 1) / s.GroupSize * perRow,
        };
    }

    public static int RowBytes(QuantScheme s, int columns) => (columns * s.Bits + 7) / 8;

    public static float Div(float a, float b) => (float)((double)a / b);

    /// <summary>A scale as stored: F16 through System.Half (clamped to 65504), BF16 by rounding to 8 significant bits in double.</summary>
    public static float StoreScale(SchemeScaleType type, float s)
    {
        switch (type)
        {
            case SchemeScaleType.F16:
                return (float)(Half)Math.Min(s, 65504f);
            case SchemeScaleType.BF16:
                if (s == 0 || float.IsInfinity(s))
                {
                    return s == 0 ? s : BitConverter.Int32BitsToSingle(0x7F7F0000);
                }

                int exponent = Math.Max(Math.ILogB(s), -126);
                double step = Math.Pow(2, exponent - 7);
                double rounded = Math.Round(s / step, MidpointRounding.ToEven) * step;
                return rounded > 3.3895313892515355e38 ? BitConverter.Int32BitsToSingle(0x7F7F0000) : (float)rounded;
            default:
                return Math.Min(s, float.MaxValue);
        }
    }

    public static Fp8Tests.Format? Fp8Of(QuantScheme s) => s.Element switch
    {
        SchemeElement.Fp8E4M3 => Fp8Tests.E4M3,
        SchemeElement.Fp8E5M2 => Fp8Tests.E5M2,
        _ => null,
    };

    /// <summary>The whole tensor: codes, scales (little-endian), zero points.</summary>
    public static byte[] Quantize(QuantScheme s, float[] x, int rows, int columns, out float[] scales, out int[] zeros)
    {
        int n = ScaleCount(s, rows, columns);
        var low = new double[n];
        var high = new double[n];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                int i = ScaleIndex(s, rows, columns, r, c);
                double v = x[r * columns + c];
                if (s.Symmetric)
                {
                    low[i] = Math.Max(low[i], Math.Abs(v));
                }
                else
                {
                    low[i] = Math.Min(low[i], v);
                    high[i] = Math.Max(high[i], v);
                }
            }
        }

        scales = new float[n];
        zeros = new int[n];
        Fp8Tests.Format? fp8 = Fp8Of(s);
        for (int i = 0; i < n; i++)
        {
            if (fp8 is not null)
            {
                scales[i] = StoreScale(s.ScaleType, Div((float)low[i], (float)fp8.Value(fp8.MaxCode)));
            }
            else if (s.Symmetric)
            {
                scales[i] = StoreScale(s.ScaleType, Div((float)low[i], (1 << (s.Bits - 1)) - 1));
                zeros[i] = 1 << (s.Bits - 1);
            }
            else
            {
                float range = (float)(high[i] - low[i]);
                scales[i] = StoreScale(s.ScaleType, Div(range, (1 << s.Bits) - 1));
                zeros[i] = scales[i] == 0 ? 0 : (int)Math.Clamp(Math.Round(Div((float)-low[i], scales[i])), 0, (1 << s.Bits) - 1);
            }
        }

        int rowBytes = RowBytes(s, columns);
        int scaleBytes = s.ScaleType == SchemeScaleType.F32 ? 4 : 2;
        bool zeroPoints = fp8 is null && !s.Symmetric;
        var tensor = new byte[rows * rowBytes + n * scaleBytes + (zeroPoints ? n : 0)];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                int i = ScaleIndex(s, rows, columns, r, c);
                float v = x[r * columns + c];
                int code;
                if (scales[i] == 0)
                {
                    code = zeros[i];
                }
                else if (fp8 is not null)
                {
                    code = fp8.Encode(Div(v, scales[i]), saturate: true);
                }
                else if (s.Symmetric)
                {
                    int qmax = (1 << (s.Bits - 1)) - 1;
                    code = (int)Math.Clamp(Math.Round((double)Div(v, scales[i])), -qmax, qmax) + zeros[i];
                }
                else
                {
                    code = (int)Math.Clamp(Math.Round((double)Div(v, scales[i])) + zeros[i], 0, (1 << s.Bits) - 1);
                }

                for (int bit = 0; bit < s.Bits; bit++)
                {
                    long position = (long)c * s.Bits + bit;
                    tensor[r * rowBytes + position / 8] |= (byte)(((code >> bit) & 1) << (int)(position % 8));
                }
            }
        }

        int offset = rows * rowBytes;
        for (int i = 0; i < n; i++)
        {
            byte[] bytes = s.ScaleType switch
            {
                SchemeScaleType.F16 => BitConverter.GetBytes((Half)scales[i]),
                SchemeScaleType.BF16 => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(scales[i]) >> 16)),
                _ => BitConverter.GetBytes(scales[i]),
            };
            bytes.CopyTo(tensor, offset + i * scaleBytes);
            if (zeroPoints)
            {
                tensor[rows * rowBytes + n * scaleBytes + i] = (byte)zeros[i];
            }
        }

        return tensor;
    }

    /// <summary>The dequantized matrix of oracle-quantized data.</summary>
    public static float[] Dequantize(QuantScheme s, byte[] tensor, int rows, int columns, float[] scales, int[] zeros)
    {
        var w = new float[rows * columns];
        int rowBytes = RowBytes(s, columns);
        Fp8Tests.Format? fp8 = Fp8Of(s);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                int code = 0;
                for (int bit = 0; bit < s.Bits; bit++)
                {
                    long position = (long)c * s.Bits + bit;
                    code |= ((tensor[r * rowBytes + position / 8] >> (int)(position % 8)) & 1) << bit;
                }

                int i = ScaleIndex(s, rows, columns, r, c);
                w[r * columns + c] = fp8 is not null
                    ? (float)(fp8.Value(code) * scales[i])
                    : (float)((double)(code - zeros[i]) * scales[i]);
            }
        }

        return w;
    }
}
