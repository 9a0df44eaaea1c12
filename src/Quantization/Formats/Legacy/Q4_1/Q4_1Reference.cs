using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q4_1: <c>quantize_row_q4_1_ref</c>, <c>quantize_row_q4_1_impl</c>, <c>dequantize_row_q4_1</c>.</summary>
internal readonly struct Q4_1Reference : IRowReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportance(x, destination, importance);
            return;
        }

        Span<BlockQ4_1> y = MemoryMarshal.Cast<byte, BlockQ4_1>(destination);
        const int qk = 32;
        for (int i = 0; i < x.Length / qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * qk, qk);
            float min = float.MaxValue;
            float max = -float.MaxValue;
            for (int j = 0; j < qk; j++)
            {
                float v = xb[j];
                if (v < min)
                {
                    min = v;
                }

                if (v > max)
                {
                    max = v;
                }
            }

            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            y[i].M = Fp16.FromSingle(min);
            for (int j = 0; j < qk / 2; ++j)
            {
                float x0 = (xb[j] - min) * id;
                float x1 = (xb[qk / 2 + j] - min) * id;
                int xi0 = Math.Min(15, (int)(sbyte)Rounding.CTruncate(x0 + 0.5f));
                int xi1 = Math.Min(15, (int)(sbyte)Rounding.CTruncate(x1 + 0.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    private static void QuantizeRowImportance(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ4_1> y = MemoryMarshal.Cast<byte, BlockQ4_1>(destination);
        Span<float> weight = stackalloc float[32];
        Span<byte> L = stackalloc byte[32];
        Span<byte> Laux = stackalloc byte[32];
        float sigma2 = QuantSearch.RowSigma2(x);
        for (int ib = 0; ib < x.Length / 32; ++ib)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
            QuantSearch.ImportanceWeights(xb, importance.Slice(32 * ib, 32), sigma2, weight);
            float d = QuantSearch.MakeQkx3Quants(32, 15, xb, weight, L, out float min, Laux, -0.9f, 0.05f, 36, false);
            ImportanceFormat.Pack(MemoryMarshal.AsBytes(y.Slice(ib, 1)), d, min, L);
        }
    }

    /// <summary>The importance path's search parameters and block packing, shared with the lane-parallel kernel.</summary>
    public readonly struct ImportanceFormat : ILegacyImportanceFormat
    {
        public static int BlockBytes => BlockQ4_1.Size;
        public static int Nmax => 15;
        public static bool Affine => true;

        public static void Pack(Span<byte> block, float d, float theMin, ReadOnlySpan<byte> L)
        {
            ref BlockQ4_1 y = ref MemoryMarshal.AsRef<BlockQ4_1>(block);
            y.D = Fp16.FromSingle(d);
            y.M = Fp16.FromSingle(-theMin);
            for (int j = 0; j < 16; ++j)
            {
                y.Qs[j] = (byte)(L[j] | (L[j + 16] << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ4_1> x = MemoryMarshal.Cast<byte, BlockQ4_1>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            float m = Fp16.ToSingle(x[i].M);
            for (int j = 0; j < 16; ++j)
            {
                int x0 = x[i].Qs[j] & 0x0F;
                int x1 = x[i].Qs[j] >> 4;
                y[i * 32 + j] = x0 * d + m;
                y[i * 32 + j + 16] = x1 * d + m;
            }
        }
    }
}
