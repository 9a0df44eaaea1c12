using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_1 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q8_1Reference"/>.</summary>
internal sealed class Q8_1Kernel : BlockKernel<Q8_1Kernel.Codec, BlockQ8_1>
{
    internal readonly struct Codec : IBlockCodec<BlockQ8_1>
    {
        public static QuantType Type => QuantType.Q8_1;

        public static int BlockValues => 32;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ8_1 y)
        {
            float d = Block32.QuantizeQ8(ref x, ref y.Qs[0], out Vector128<byte> lo, out Vector128<byte> hi);
            y.D = Fp16.FromSingle(d);
            y.S = Fp16.FromSingle((Block32.Sum(lo) + Block32.Sum(hi)) * d);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ8_1 x, ref float y) =>
            Block32.DequantizeQ8(in x.Qs[0], Fp16.ToSingle(x.D), ref y);
    }
}
