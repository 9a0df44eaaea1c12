using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ4_NL weights: kvalues_iq4nl[nibble], one byte shuffle per 16 codes.</summary>
internal readonly struct IQ4_NLWeights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.IQ4_NL;
    public static int BlockBytes => BlockIQ4_NL.Size;
    public static bool HasMin => false;
    public static bool NonNegative => false;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        Block32Decode.TableSumReference(Iq4Search.Values, in Unsafe.Add(ref Unsafe.AsRef(in block), 2), in y);

    // d = d_y*d_x; d*(sumi1 + sumi2)
    public static float ScaleReference(int sumi, float dx, float dy) => dy * dx * sumi;

    public static int Offset => 128;

    /// <summary>kvalues_iq4nl[code] + 128 (1..241) by one byte shuffle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block)
    {
        Vector256<byte> table = Vector256.Create((byte)1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241,
                                                 1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241);
        return Avx2.Shuffle(table, Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 2)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block)
    {
        Vector256<sbyte> table = Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                                  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        return Avx2.Shuffle(table, Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 2)).AsSByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 2), out Vector128<byte> hi);
        high = Iq4Search.Lookup(hi);
        return Iq4Search.Lookup(low);
    }
}
