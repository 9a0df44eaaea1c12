using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q1_0 weights against Q8_0 (<c>ggml_vec_dot_q1_0_q8_0</c>): a 128-value block meets four Q8_0 blocks, each against 4
/// bytes of sign bits. Code = +1 where the bit is set, else −1; unsigned form 2·bit (<see cref="Offset"/> 1).
/// </summary>
internal readonly struct Q1_0Weights : IWideBlockWeights
{
    public static QuantType WeightType => QuantType.Q1_0;
    public static int BlockBytes => BlockQ1_0.Size;
    public static int SubBlocks => 4;
    public static int SubBlockBytes => 4;
    public static bool HasMin => false;
    public static bool NonNegative => false;
    public static int Offset => 1;

    /// <summary>Σ ±y over one Q8_0 block, byte by byte as ggml's generic kernel.</summary>
    public static int IntegerSumReference(ref readonly byte bits, ref readonly sbyte y)
    {
        ref byte b = ref Unsafe.AsRef(in bits);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi = 0;
        for (int k = 0; k < 4; k++)
        {
            int mask = Unsafe.Add(ref b, k);
            for (int j = 0; j < 8; j++)
            {
                int q = Unsafe.Add(ref yr, 8 * k + j);
                sumi += (mask & (1 << j)) != 0 ? q : -q;
            }
        }

        return sumi;
    }

    /// <summary>ggml's term of one Q8_0 block inside the 128-value block, d_y·Σ; the block's d_x multiplies their sum.</summary>
    public static float ScaleReference(int sumi, float dx, float dy) => dy * sumi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte bits) =>
        Block32Decode.BitMask256(Unsafe.ReadUnaligned<uint>(in bits)) & Vector256.Create((byte)2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte bits) =>
        (DecodeUnsigned256(in bits) - Vector256<byte>.One).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte bits, out Vector128<sbyte> high)
    {
        uint all = Unsafe.ReadUnaligned<uint>(in bits);
        Vector128<byte> two = Vector128.Create((byte)2);
        high = ((Block32Decode.BitMask128(all >> 16) & two) - Vector128<byte>.One).AsSByte();
        return ((Block32Decode.BitMask128(all & 0xFFFF) & two) - Vector128<byte>.One).AsSByte();
    }
}
