using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q4_1 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q4_1Reference"/>.</summary>
internal sealed class Q4_1Kernel : BlockKernel<Q4_1Kernel.Codec, BlockQ4_1>
{
    internal readonly struct Codec : ILegacyCodec<BlockQ4_1, Q4_1Reference.ImportanceFormat, Q4_1Reference>
    {
        public static QuantType Type => QuantType.Q4_1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ4_1 y)
        {
            y.D = Fp16.FromSingle(Block32.AffineCodes(ref x, (1 << 4) - 1, 15, out float min, out Vector128<byte> lo, out Vector128<byte> hi));
            y.M = Fp16.FromSingle(min);
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y.Qs[0]);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ4_1 x, ref float y)
        {
            var op = new AffineValueOp(Fp16.ToSingle(x.D), Fp16.ToSingle(x.M));
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x.Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16(lo.AsSByte(), op, ref y);
            Block32.Values16(hi.AsSByte(), op, ref Unsafe.Add(ref y, 16));
        }
    }
}
