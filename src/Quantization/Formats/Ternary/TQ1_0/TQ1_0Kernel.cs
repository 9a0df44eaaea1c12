using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// TQ1_0 kernels: codes 32 at a time over <see cref="Block32"/>, base-3 packing and the multiply-and-shift unpacking
/// 16 bytes per step, identical in bytes and floats to <see cref="TQ1_0Reference"/>.
/// </summary>
internal sealed class TQ1_0Kernel : BlockKernel<TQ1_0Kernel.Codec, BlockTQ1_0>
{
    internal readonly struct Codec : IBlockCodec<BlockTQ1_0>
    {
        public static QuantType Type => QuantType.TQ1_0;

        public static int BlockValues => TQ1_0Reference.SuperBlockSize;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void QuantizeBlock(ref float x, ref BlockTQ1_0 y)
        {
            y.D = TernaryBlocks.Scale(ref x, out TernaryCodeOp op);

            // Group g holds elements 32g..32g+31: lo = the first 16, hi = the last 16.
            Block32.Codes(ref x, op, out Vector128<byte> l0, out Vector128<byte> h0);
            Block32.Codes(ref Unsafe.Add(ref x, 32), op, out Vector128<byte> l1, out Vector128<byte> h1);
            Block32.Codes(ref Unsafe.Add(ref x, 64), op, out Vector128<byte> l2, out Vector128<byte> h2);
            Block32.Codes(ref Unsafe.Add(ref x, 96), op, out Vector128<byte> l3, out Vector128<byte> h3);
            Block32.Codes(ref Unsafe.Add(ref x, 128), op, out Vector128<byte> l4, out Vector128<byte> h4);
            Block32.Codes(ref Unsafe.Add(ref x, 160), op, out Vector128<byte> l5, out Vector128<byte> h5);
            Block32.Codes(ref Unsafe.Add(ref x, 192), op, out Vector128<byte> l6, out Vector128<byte> h6);
            Block32.Codes(ref Unsafe.Add(ref x, 224), op, out Vector128<byte> l7, out Vector128<byte> h7);

            ref byte qs = ref y.Qs[0];
            // Qs[m], m < 32: elements m + 32n.
            TernaryBlocks.CeilScale(TernaryBlocks.Base3(l0, l1, l2, l3, l4)).StoreUnsafe(ref qs);
            TernaryBlocks.CeilScale(TernaryBlocks.Base3(h0, h1, h2, h3, h4)).StoreUnsafe(ref qs, 16);
            // Qs[32 + m], m < 16: elements 160 + m + 16n.
            TernaryBlocks.CeilScale(TernaryBlocks.Base3(l5, h5, l6, h6, l7)).StoreUnsafe(ref qs, 32);
            // Qh[j]: elements 240 + j + 4n (lanes j + 4n of h7), times 3 so that the first trit is the most significant.
            Vector128<byte> t1 = Vector128.Shuffle(h7, Vector128.Create((byte)4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7));
            Vector128<byte> t2 = Vector128.Shuffle(h7, Vector128.Create((byte)8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11));
            Vector128<byte> t3 = Vector128.Shuffle(h7, Vector128.Create((byte)12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15));
            Vector128<byte> qh = TernaryBlocks.Times3(TernaryBlocks.Times3(TernaryBlocks.Times3(TernaryBlocks.Times3(h7) + t1) + t2) + t3);
            Unsafe.WriteUnaligned(ref y.Qh[0], TernaryBlocks.CeilScale(qh).AsUInt32().ToScalar());
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void DequantizeBlock(ref readonly BlockTQ1_0 x, ref float y)
        {
            var op = new ScaleValueOp(1, Fp16.ToSingle(x.D));
            ref readonly byte qs = ref x.Qs[0];

            // Elements 32n + m from Qs[0..31], then 160 + 16n + m from Qs[32..47]: trit n is (byte)(b·3ⁿ).
            Vector128<byte> a = Vector128.LoadUnsafe(in qs), b = Vector128.LoadUnsafe(in qs, 16), c = Vector128.LoadUnsafe(in qs, 32);
            for (int n = 0; n < 5; n++)
            {
                Block32.Values16(TernaryBlocks.TritOf(a).AsSByte(), op, ref Unsafe.Add(ref y, 32 * n));
                Block32.Values16(TernaryBlocks.TritOf(b).AsSByte(), op, ref Unsafe.Add(ref y, 32 * n + 16));
                Block32.Values16(TernaryBlocks.TritOf(c).AsSByte(), op, ref Unsafe.Add(ref y, 160 + 16 * n));
                a = TernaryBlocks.Times3(a);
                b = TernaryBlocks.Times3(b);
                c = TernaryBlocks.Times3(c);
            }

            // Elements 240 + 4n + j: lane 4n + j holds Qh[j]·3ⁿ.
            Vector128<byte> qhPow3 = Vector128.Create((byte)1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
            Vector128<byte> h = Vector128.Create(Unsafe.ReadUnaligned<uint>(in x.Qh[0])).AsByte() * qhPow3;
            Block32.Values16(TernaryBlocks.TritOf(h).AsSByte(), op, ref Unsafe.Add(ref y, 240));
        }
    }
}
