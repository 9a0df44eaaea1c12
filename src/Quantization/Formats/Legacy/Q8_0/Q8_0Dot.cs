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

/// <summary>Q8_0 × Q8_0 dot products (ggml's <c>ggml_vec_dot_q8_0_q8_0</c>) over <see cref="Block32Dot{TWeights}"/>.</summary>
internal sealed class Q8_0Dot : IDotRowsKernel
{
    public static QuantType WeightType => QuantType.Q8_0;

    public static QuantType ActivationType => QuantType.Q8_0;

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<Q8_0Weights>.Dot(weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        Block32Dot<Q8_0Weights>.Reference(weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        Block32Dot<Q8_0Weights>.DotRows(weights, rowBytes, activations, n, results);
}
