using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q4_0: <c>quantize_row_q4_0_ref</c>, <c>quantize_row_q4_0_impl</c>, <c>dequantize_row_q4_0</c>.</summary>
internal readonly struct Q4_0Reference : IRowReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportance(x, destination, importance);
            return;
        }

        Span<BlockQ4_0> y = MemoryMarshal.Cast<byte, BlockQ4_0>(destination);
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

            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y[i].D = Fp16.FromSingle(d);
            for (int j = 0; j < qk / 2; ++j)
            {
                float x0 = xb[j] * id;
                float x1 = xb[qk / 2 + j] * id;
                int xi0 = Math.Min(15, (int)(sbyte)Rounding.CTruncate(x0 + 8.5f));
                int xi1 = Math.Min(15, (int)(sbyte)Rounding.CTruncate(x1 + 8.5f));
                y[i].Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    private static void QuantizeRowImportance(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ4_0> y = MemoryMarshal.Cast<byte, BlockQ4_0>(destination);
        Span<float> weight = stackalloc float[32];
        Span<sbyte> L = stackalloc sbyte[32];
        float sigma2 = QuantSearch.RowSigma2(x);
        for (int ib = 0; ib < x.Length / 32; ++ib)
        {
            ReadOnlySpan<float> xb = x.Slice(32 * ib, 32);
            QuantSearch.ImportanceWeights(xb, importance.Slice(32 * ib, 32), sigma2, weight);
            float d = QuantSearch.MakeQxQuants(32, 8, xb, L, 1, weight);
            ImportanceFormat.Pack(MemoryMarshal.AsBytes(y.Slice(ib, 1)), d, 0, MemoryMarshal.AsBytes(L));
        }
    }

    /// <summary>The importance path's search parameters and block packing, shared with the lane-parallel kernel.</summary>
    public readonly struct ImportanceFormat : ILegacyImportanceFormat
    {
        public static int BlockBytes => BlockQ4_0.Size;
        public static int Nmax => 8;
        public static bool Affine => false;

        public static void Pack(Span<byte> block, float d, float theMin, ReadOnlySpan<byte> L)
        {
            ref BlockQ4_0 y = ref MemoryMarshal.AsRef<BlockQ4_0>(block);
            y.D = Fp16.FromSingle(d);
            for (int j = 0; j < 16; ++j)
            {
                y.Qs[j] = (byte)(L[j] | (L[j + 16] << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ4_0> x = MemoryMarshal.Cast<byte, BlockQ4_0>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int j = 0; j < 16; ++j)
            {
                int x0 = (x[i].Qs[j] & 0x0F) - 8;
                int x1 = (x[i].Qs[j] >> 4) - 8;
                y[i * 32 + j] = x0 * d;
                y[i * 32 + j + 16] = x1 * d;
            }
        }
    }
}
