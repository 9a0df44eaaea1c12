using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q5_0 kernels: vector paths over <see cref="Block32"/>, identical in bytes to <see cref="Q5_0Reference"/>.</summary>
internal sealed class Q5_0Kernel : BlockKernel<Q5_0Kernel.Codec, BlockQ5_0>
{
    internal readonly struct Codec : IBlockCodec<BlockQ5_0>
    {
        public static QuantType Type => QuantType.Q5_0;

        public static int BlockValues => 32;

        public static bool QuantizeWeighted(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
            LegacyImportance.QuantizeRowOrReference<Q5_0Reference.ImportanceFormat, Q5_0Reference>(x, destination, importance);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockQ5_0 y)
        {
            float max = Block32.SignedMaxAbs(ref x, out _);
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            y.D = Fp16.FromSingle(d);
            Block32.Codes(ref x, new TruncateCodeOp(0f, id, 16.5f, 31), out Vector128<byte> lo, out Vector128<byte> hi);
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
