using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q5_0 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q5_0Reference"/>.</summary>
internal sealed class Q5_0Kernel : BlockKernel<Q5_0Kernel.Codec, BlockQ5_0>
{
    internal readonly struct Codec : ILegacyCodec<BlockQ5_0, Q5_0Reference.ImportanceFormat, Q5_0Reference>
    {
        public static QuantType Type => QuantType.Q5_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ5_0 y)
        {
            y.D = Fp16.FromSingle(Block32.SymmetricCodes(ref x, 16, 31, out Vector128<byte> lo, out Vector128<byte> hi));
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y.Qs[0]);
            y.Qh = Block32.HighBits(lo, hi);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ5_0 x, ref float y)
        {
            var op = new ScaleValueOp(16, Fp16.ToSingle(x.D));
            uint qh = x.Qh;
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x.Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16((lo | Block32.SpreadBit4(qh)).AsSByte(), op, ref y);
            Block32.Values16((hi | Block32.SpreadBit4(qh >> 16)).AsSByte(), op, ref Unsafe.Add(ref y, 16));
        }
    }
}
