using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>Q4_1 weights: the nibble (0..15); the min enters through Q8_1's s.</summary>
internal readonly struct Q4_1Weights : IBlock32Weights
{
    public static QuantType WeightType => QuantType.Q4_1;
    public static int BlockBytes => BlockQ4_1.Size;
    public static bool HasMin => true;
    public static bool NonNegative => true;

    public static int IntegerSumReference(ref readonly byte block, ref readonly sbyte y) =>
        LegacyDotCodes.NibbleSumReference(in block, 4, 0, in y);

    // (d_x*d_y)*sumi (+ m_x*s_y, added by the driver)
    public static float ScaleReference(int sumi, float dx, float dy) => dx * dy * sumi;

    public static int Offset => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte block) =>
        Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte block) =>
        Block32Decode.Nibbles256(in Unsafe.Add(ref Unsafe.AsRef(in block), 4)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte block, out Vector128<sbyte> high)
    {
        Vector128<byte> low = Block32Decode.Nibbles128(in Unsafe.Add(ref Unsafe.AsRef(in block), 4), out Vector128<byte> hi);
        high = hi.AsSByte();
        return low.AsSByte();
    }
}

/// <summary>Q4_1 × Q8_1 dot products (ggml's <c>ggml_vec_dot_q4_1_q8_1</c>) over <see cref="Block32Dot{TWeights}"/>.</summary>
internal sealed class Q4_1Dot : IDotRowsKernel
{
    public static QuantType WeightType => QuantType.Q4_1;

    public static QuantType ActivationType => QuantType.Q8_1;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<Q4_1Weights>.Dot(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<Q4_1Weights>.Reference(weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        Block32Dot<Q4_1Weights>.DotRows(weights, rowBytes, activations, n, results);
}
