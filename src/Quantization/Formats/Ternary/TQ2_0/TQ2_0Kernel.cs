using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>TQ2_0 kernels: 32 codes per vector step over <see cref="Block32"/>, identical in bytes and floats to <see cref="TQ2_0Reference"/>.</summary>
internal sealed class TQ2_0Kernel : BlockKernel<TQ2_0Kernel.Codec, BlockTQ2_0>
{
    internal readonly struct Codec : IBlockCodec<BlockTQ2_0>
    {
        public static QuantType Type => QuantType.TQ2_0;

        public static int BlockValues => TQ2_0Reference.SuperBlockSize;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockTQ2_0 y)
        {
            y.D = TernaryBlocks.Scale(ref x, out TernaryCodeOp op);
            ref byte qs = ref y.Qs[0];
            for (int c = 0; c < 2; c++)
            {
                ref float xc = ref Unsafe.Add(ref x, 128 * c);
                Block32.Codes(ref xc, op, out Vector128<byte> l0, out Vector128<byte> h0);
                Block32.Codes(ref Unsafe.Add(ref xc, 32), op, out Vector128<byte> l1, out Vector128<byte> h1);
                Block32.Codes(ref Unsafe.Add(ref xc, 64), op, out Vector128<byte> l2, out Vector128<byte> h2);
                Block32.Codes(ref Unsafe.Add(ref xc, 96), op, out Vector128<byte> l3, out Vector128<byte> h3);
                TernaryBlocks.Pack2Bit(l0, l1, l2, l3).StoreUnsafe(ref qs, (nuint)(32 * c));
                TernaryBlocks.Pack2Bit(h0, h1, h2, h3).StoreUnsafe(ref qs, (nuint)(32 * c + 16));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockTQ2_0 x, ref float y)
        {
            var op = new ScaleValueOp(1, Fp16.ToSingle(x.D));
            Vector128<byte> three = Vector128.Create((byte)3);
            for (int c = 0; c < 2; c++)
            {
                for (int h = 0; h < 2; h++)
                {
                    Vector128<byte> b = Vector128.LoadUnsafe(in x.Qs[0], (nuint)(32 * c + 16 * h));
                    for (int l = 0; l < 4; l++)
                    {
                        Vector128<byte> q = Vector128.ShiftRightLogical(b, 2 * l) & three;
                        Block32.Values16(q.AsSByte(), op, ref Unsafe.Add(ref y, 128 * c + 32 * l + 16 * h));
                    }
                }
            }
        }
    }
}
