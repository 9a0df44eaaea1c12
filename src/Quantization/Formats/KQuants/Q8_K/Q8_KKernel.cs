using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_K kernels: the 256-value block handled as eight 32-value groups of <see cref="Block32"/>.</summary>
internal sealed class Q8_KKernel : BlockKernel<Q8_KKernel.Codec, BlockQ8_K>
{
    internal readonly struct Codec : IBlockCodec<BlockQ8_K>
    {
        public static QuantType Type => QuantType.Q8_K;

        public static int BlockValues => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ8_K y)
        {
            // The signed value of largest magnitude, first occurrence: first group holding the maximum wins.
            float amax = 0, max = 0;
            for (int g = 0; g < 8; g++)
            {
                float m = Block32.SignedMaxAbs(ref Unsafe.Add(ref x, g * 32), out float ga);
                if (ga > amax)
                {
                    amax = ga;
                    max = m;
                }
            }

            if (amax == 0)
            {
                y = default;
                return;
            }

            float iscale = -127f / max;
            var op = new NearestCodeOp(iscale, 127);
            for (int g = 0; g < 8; g++)
            {
                Block32.Codes(ref Unsafe.Add(ref x, g * 32), op, out Vector128<byte> lo, out Vector128<byte> hi);
                lo.AsSByte().StoreUnsafe(ref y.Qs[g * 32]);
                hi.AsSByte().StoreUnsafe(ref y.Qs[g * 32 + 16]);
                y.Bsums[2 * g] = (short)Block32.Sum(lo);
                y.Bsums[2 * g + 1] = (short)Block32.Sum(hi);
            }

            y.D = 1 / iscale;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ8_K x, ref float y)
        {
            var op = new ScaleValueOp(0, x.D);
            ref readonly sbyte qs = ref x.Qs[0];
            for (int j = 0; j < 256; j += 16)
            {
                Block32.Values16(Vector128.LoadUnsafe(in qs, (nuint)j), op, ref Unsafe.Add(ref y, j));
            }
        }
    }
}
