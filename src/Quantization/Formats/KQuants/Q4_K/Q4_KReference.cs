using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q4_K: <c>quantize_row_q4_K_ref</c>, <c>quantize_row_q4_K_impl</c>, <c>dequantize_row_q4_K</c>.</summary>
internal static class Q4_KReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        KQuantAffine.QuantizeRow<Format>(x, destination, importance);

    /// <summary>Q4_K's parameters and packing: make_qkx2_quants(32, 15, rmin −1, rdelta 0.1, nstep 20); nibbles.</summary>
    public readonly struct Format : IKQuantAffineFormat
    {
        public static int BlockBytes => BlockQ4_K.Size;
        public static int Nmax => 15;
        public static float Rmin => -1.0f;
        public static int Nstep => 20;
        public static bool ClampImportanceCodes => false;

        public static void Pack(Span<byte> block, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, ReadOnlySpan<byte> L)
        {
            ref BlockQ4_K y = ref MemoryMarshal.AsRef<BlockQ4_K>(block);
            y.D = d;
            y.DMin = dmin;
            packedScales.CopyTo(y.Scales);
            for (int c = 0; c < 4; ++c)
            {
                for (int l = 0; l < 32; ++l)
                {
                    y.Qs[32 * c + l] = (byte)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ4_K> x = MemoryMarshal.Cast<byte, BlockQ4_K>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            float min = Fp16.ToSingle(x[i].DMin);
            ReadOnlySpan<byte> scales = x[i].Scales;
            ReadOnlySpan<byte> qs = x[i].Qs;
            for (int c = 0; c < 4; ++c)
            {
                KScales.Get(2 * c, scales, out int sc, out int m);
                float d1 = d * sc;
                float m1 = min * m;
                KScales.Get(2 * c + 1, scales, out sc, out m);
                float d2 = d * sc;
                float m2 = min * m;
                Span<float> yc = y.Slice(256 * i + 64 * c, 64);
                for (int l = 0; l < 32; ++l)
                {
                    yc[l] = KDequantize.Value(d1, qs[32 * c + l] & 0xF, m1);
                }

                for (int l = 0; l < 32; ++l)
                {
                    yc[32 + l] = KDequantize.Value(d2, qs[32 * c + l] >> 4, m2);
                }
            }
        }
    }
}
