using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q8_0 weights: the signed codes as stored.</summary>
internal readonly struct Q8_0Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q8_0;
    public static int BlockBytes => BlockQ8_0.Size;
    public static bool HasMin => false;
    public static bool NonNegative => false;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y)
    {
        ref sbyte qs = ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref Unsafe.AsRef(in block), 2));
        int sumi = 0;
        for (int j = 0; j < 32; j++)
        {
            sumi += Unsafe.Add(ref qs, j) * Unsafe.Add(ref Unsafe.AsRef(in y), j);
        }

        return sumi;
    }

    // sumi*(d_x*d_y)
    public static float ScaleReference(int sumi, float dx, float dy) => sumi * (dx * dy);

    public static int Offset => 128;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) =>
        Vector256.LoadUnsafe(in block, 2) ^ Vector256.Create((byte)0x80);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block) => Vector256.LoadUnsafe(in block, 2).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        high = Vector128.LoadUnsafe(in block, 18).AsSByte();
        return Vector128.LoadUnsafe(in block, 2).AsSByte();
    }
}
