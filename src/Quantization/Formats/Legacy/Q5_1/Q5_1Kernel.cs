using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q5_1 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q5_1Reference"/>.</summary>
internal sealed class Q5_1Kernel : BlockKernel<Q5_1Kernel.Codec, BlockQ5_1>
{
    internal readonly struct Codec : ILegacyCodec<BlockQ5_1, Q5_1Reference.ImportanceFormat, Q5_1Reference>
    {
        public static QuantType Type => QuantType.Q5_1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ5_1 y)
        {
            // The reference does not clamp; (x − min)·id + 0.5 stays below 32 because id = 1/((max − min)/31).
            y.D = Fp16.FromSingle(Block32.AffineCodes(ref x, (1 << 5) - 1, 255, out float min, out Vector128<byte> lo, out Vector128<byte> hi));
            y.M = Fp16.FromSingle(min);
            Block32.PackNibbles(lo, hi).StoreUnsafe(ref y.Qs[0]);
            y.Qh = Block32.HighBits(lo, hi);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockQ5_1 x, ref float y)
        {
            var op = new AffineValueOp(Fp16.ToSingle(x.D), Fp16.ToSingle(x.M));
            uint qh = x.Qh;
            Block32.SplitNibbles(Vector128.LoadUnsafe(in x.Qs[0]), out Vector128<byte> lo, out Vector128<byte> hi);
            Block32.Values16((lo | Block32.SpreadBit4(qh)).AsSByte(), op, ref y);
            Block32.Values16((hi | Block32.SpreadBit4(qh >> 16)).AsSByte(), op, ref Unsafe.Add(ref y, 16));
        }
    }
}
