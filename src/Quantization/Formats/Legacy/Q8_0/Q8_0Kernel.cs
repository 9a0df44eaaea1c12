using System.Runtime.CompilerServices;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q8_0 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q8_0Reference"/>.</summary>
internal sealed class Q8_0Kernel : BlockKernel<Q8_0Kernel.Codec, BlockQ8_0>
{
    internal readonly struct Codec : IBlockCodec<BlockQ8_0>
    {
        public static QuantType Type => QuantType.Q8_0;

        public static int BlockValues => 32;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ8_0 y) =>
            y.D = Fp16.FromSingle(Block32.QuantizeQ8(ref x, ref y.Qs[0], out _, out _));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ8_0 x, ref float y) =>
            Block32.DequantizeQ8(in x.Qs[0], Fp16.ToSingle(x.D), ref y);
    }
}
