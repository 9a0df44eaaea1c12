using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q4_0 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q4_0Reference"/>.</summary>
internal sealed class Q4_0Kernel : BlockKernel<Q4_0Kernel.Codec, BlockQ4_0>
{
    internal readonly struct Codec : ILegacyCodec<BlockQ4_0, Q4_0Reference.ImportanceFormat, Q4_0Reference>
    {
        public static QuantType Type => QuantType.Q4_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ4_0 y)
        {
            y.D = Fp16.FromSingle(Block32.SymmetricCodes(ref x, 8, 15, out Vector128<byte> lo, out Vector128<byte> hi));
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y.Qs[0]);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ4_0 x, ref float y)
        {
            var op = new ScaleValueOp(8, Fp16.ToSingle(x.D));
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x.Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16(lo.AsSByte(), op, ref y);
            Block32.Values16(hi.AsSByte(), op, ref Unsafe.Add(ref y, 16));
        }
    }
}
