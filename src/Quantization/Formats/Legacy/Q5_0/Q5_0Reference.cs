using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q5_0: <c>quantize_row_q5_0_ref</c>, <c>quantize_row_q5_0_impl</c>, <c>dequantize_row_q5_0</c>.</summary>
internal readonly struct Q5_0Reference : IRowReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportance(x, destination, importance);
            return;
        }

        Span<BlockQ5_0> y = MemoryMarshal.Cast<byte, BlockQ5_0>(destination);
        const int qk = 32;
        for (int i = 0; i < x.Length / qk; i++)
        {
            ReadOnlySpan<float> xb = x.Slice(i * qk, qk);
            float amax = 0.0f;
            float max = 0.0f;
            for (int j = 0; j < qk; j++)
            {
                float v = xb[j];
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }

            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            uint qh = 0;
            for (int j = 0; j < qk / 2; ++j)
            {
                float x0 = xb[j] * id;
                float x1 = xb[qk / 2 + j] * id;
                int xi0 = Math.Min(31, (int)(sbyte)Rounding.CTruncate(x0 + 16.5f));
                int xi1 = Math.Min(31, (int)(sbyte)Rounding.CTruncate(x1 + 16.5f));
                y[i].Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= (((uint)xi0 & 0x10u) >> 4) << j;
                qh |= (((uint)xi1 & 0x10u) >> 4) << (j + qk / 2);
            }

            y[i].Qh = qh;
        }
    }

    private static void QuantizeRowImportance(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ5_0> y = MemoryMarshal.Cast<byte, BlockQ5_0>(destination);
        Span<float> weight = stackalloc float[32];
        Span<sbyte> L = stackalloc sbyte[32];
        float sigma2 = QuantSearch.RowSigma2(x);
        for (int ib = 0; ib < x.Length / 32; ++ib)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
            QuantSearch.ImportanceWeights(xb, importance.Slice(32 * ib, 32), sigma2, weight);
            float d = QuantSearch.MakeQxQuants(32, 16, xb, L, 1, weight);
            ImportanceFormat.Pack(MemoryMarshal.AsBytes(y.Slice(ib, 1)), d, 0, MemoryMarshal.AsBytes(L));
        }
    }

    /// <summary>The importance path's search parameters and block packing, shared with the lane-parallel kernel.</summary>
    public readonly struct ImportanceFormat : ILegacyImportanceFormat
    {
        public static int BlockBytes => BlockQ5_0.Size;
        public static int Nmax => 16;
        public static bool Affine => false;

        public static void Pack(Span<byte> block, float d, float theMin, ReadOnlySpan<byte> L)
        {
            ref BlockQ5_0 y = ref MemoryMarshal.AsRef<BlockQ5_0>(block);
            y.D = Fp16.FromSingle(d);
            uint qh = 0;
            for (int j = 0; j < 16; ++j)
            {
                uint xi0 = L[j], xi1 = L[j + 16];
                y.Qs[j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
            }

            y.Qh = qh;
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ5_0> x = MemoryMarshal.Cast<byte, BlockQ5_0>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            uint qh = x[i].Qh;
            for (int j = 0; j < 16; ++j)
            {
                int xh0 = (int)(((qh >> j) << 4) & 0x10);
                int xh1 = (int)((qh >> (j + 12)) & 0x10);
                int x0 = ((x[i].Qs[j] & 0x0F) | xh0) - 16;
                int x1 = ((x[i].Qs[j] >> 4) | xh1) - 16;
                y[i * 32 + j] = x0 * d;
                y[i * 32 + j + 16] = x1 * d;
            }
        }
    }
}
