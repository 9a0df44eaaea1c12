using System.Runtime.InteropServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Scalar reference of Q5_K: <c>quantize_row_q5_K_ref</c>, <c>quantize_row_q5_K_impl</c>, <c>dequantize_row_q5_K</c>.</summary>
internal static class Q5_KReference
{
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        KQuantAffine.QuantizeRow<Format>(x, destination, importance);

    /// <summary>Q5_K's parameters and packing: make_qkx2_quants(32, 31, rmin −0.5, rdelta 0.1, nstep 15); nibbles plus qh.</summary>
    public readonly struct Format : IKQuantAffineFormat
    {
        public static int BlockBytes => BlockQ5_K.Size;
        public static int Nmax => 31;
        public static float Rmin => -0.5f;
        public static int Nstep => 15;
        public static bool ClampImportanceCodes => true;

        public static void Pack(Span<byte> block, ushort d, ushort dmin, ReadOnlySpan<byte> packedScales, ReadOnlySpan<byte> L)
        {
            ref BlockQ5_K y = ref MemoryMarshal.AsRef<BlockQ5_K>(block);
            y.D = d;
            y.DMin = dmin;
            packedScales.CopyTo(y.Scales);
            Span<byte> qh = y.Qh;
            qh.Clear();
            for (int c = 0; c < 4; ++c)
            {
                byte m1 = (byte)(1 << (2 * c));
                byte m2 = (byte)(2 << (2 * c));
                for (int j = 0; j < 32; ++j)
                {
                    int l1 = L[64 * c + j];
                    if (l1 > 15)
                    {
                        l1 -= 16;
                        qh[j] |= m1;
                    }

                    int l2 = L[64 * c + 32 + j];
                    if (l2 > 15)
                    {
                        l2 -= 16;
                        qh[j] |= m2;
                    }

                    y.Qs[32 * c + j] = (byte)(l1 | (l2 << 4));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> y)
    {
        ReadOnlySpan<BlockQ5_K> x = MemoryMarshal.Cast<byte, BlockQ5_K>(source);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            float min = Fp16.ToSingle(x[i].DMin);
            ReadOnlySpan<byte> scales = x[i].Scales;
            ReadOnlySpan<byte> qh = x[i].Qh;
            ReadOnlySpan<byte> ql = x[i].Qs;
            for (int c = 0; c < 4; ++c)
            {
                KScales.Get(2 * c, scales, out int sc, out int m);
                float d1 = d * sc;
                float m1 = min * m;
                KScales.Get(2 * c + 1, scales, out sc, out m);
                float d2 = d * sc;
                float m2 = min * m;
                int u1 = 1 << (2 * c);
                int u2 = 2 << (2 * c);
                Span<float> yc = y.Slice(256 * i + 64 * c, 64);
                for (int l = 0; l < 32; ++l)
                {
                    yc[l] = KDequantize.Value(d1, (ql[32 * c + l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0), m1);
                }

                for (int l = 0; l < 32; ++l)
                {
                    yc[32 + l] = KDequantize.Value(d2, (ql[32 * c + l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0), m2);
                }
            }
        }
    }
}
