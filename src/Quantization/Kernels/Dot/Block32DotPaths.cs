using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels.Dot;

/// <summary>A 256-bit path: the activation block prepared once (shared by the rows of a tile) and the per-block int32 lanes.</summary>
internal interface IPath256<TY> where TY : unmanaged
{
    static abstract TY LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights;

    /// <summary>Eight int32 lanes whose sum is the block's exact Σ q·y.</summary>
    static abstract Vector256<int> Lanes<TWeights>(ref readonly byte block, TY y) where TWeights : IBlock32Weights;
}

/// <summary>A 128-bit path, as <see cref="IPath256{TY}"/>.</summary>
internal interface IPath128<TY> where TY : struct
{
    static abstract TY LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights;

    /// <summary>Four int32 lanes whose sum is the block's exact Σ q·y.</summary>
    static abstract Vector128<int> Lanes<TWeights>(ref readonly byte block, TY y) where TWeights : IBlock32Weights;
}

/// <summary>Two 128-bit halves of a 32-byte activation block.</summary>
internal readonly struct Halves(Vector128<sbyte> low, Vector128<sbyte> high)
{
    public readonly Vector128<sbyte> Low = low;
    public readonly Vector128<sbyte> High = high;
}

/// <summary>
/// AVX-512BW: both operands sign-extended to int16 (no sign trick, no saturation for any code byte), one <c>vpmaddwd</c>
/// per block; the activation widening is shared by the rows of a tile. The 16 lanes fold to 8 with an exact int add.
/// </summary>
internal readonly struct Avx512Path : IPath256<Vector512<short>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights => Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(in y));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Lanes<TWeights>(ref readonly byte block, Vector512<short> y) where TWeights : IBlock32Weights
    {
        Vector512<int> products = Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(TWeights.Decode256(in block)), y);
        return products.GetLower() + products.GetUpper();
    }
}

/// <summary>An activation block for <see cref="AvxVnniPath"/> and <see cref="Avx2Path"/>: the codes and −Offset·Σy per int32 lane.</summary>
internal readonly struct OffsetActivations(Vector256<sbyte> codes, Vector256<int> bias)
{
    public readonly Vector256<sbyte> Codes = codes;
    public readonly Vector256<int> Bias = bias;
}

/// <summary>
/// AVX-VNNI: one <c>vpdpbusd</c> per block and row on the unsigned codes (code + Offset, 0..255), accumulated onto
/// −Offset·Σy, which is computed once per activation block and shared by the rows of a tile: Σ (u − Offset)·y exactly,
/// with no saturation anywhere.
/// </summary>
internal readonly struct AvxVnniPath : IPath256<OffsetActivations>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static OffsetActivations LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights
    {
        Vector256<sbyte> codes = Vector256.LoadUnsafe(in y);
        Vector256<int> bias = TWeights.Offset == 0
            ? Vector256<int>.Zero
            : Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)TWeights.Offset), codes);
        return new OffsetActivations(codes, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Lanes<TWeights>(ref readonly byte block, OffsetActivations y) where TWeights : IBlock32Weights =>
        AvxVnni.MultiplyWideningAndAdd(y.Bias, TWeights.DecodeUnsigned256(in block), y.Codes);
}

/// <summary>
/// AVX2. Formats with small unsigned codes (<see cref="IBlock32Weights.Offset"/> below 128, bytes ≤ 31):
/// <c>vpmaddubsw</c>(u, y) and <c>vpmaddwd</c> with ones, plus −Offset·Σy per lane computed once per activation block.
/// Others: the sign trick, <c>vpmaddubsw</c>(|q|, sign(y, q)). Pair sums stay below int16 saturation: 2·31·127 = 7874,
/// and with the sign trick |q| ≤ 128, |y| ≤ 127 give at most 2·128·127 = 32512.
/// </summary>
internal readonly struct Avx2Path : IPath256<OffsetActivations>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static OffsetActivations LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights
    {
        Vector256<sbyte> codes = Vector256.LoadUnsafe(in y);
        Vector256<int> bias = TWeights.Offset is 0 or >= 128
            ? Vector256<int>.Zero
            : Vector256<int>.Zero - Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Create((byte)TWeights.Offset), codes), Vector256.Create((short)1));
        return new OffsetActivations(codes, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Lanes<TWeights>(ref readonly byte block, OffsetActivations y) where TWeights : IBlock32Weights
    {
        Vector256<short> ones = Vector256.Create((short)1);
        if (TWeights.Offset < 128)
        {
            Vector256<int> lanes = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(TWeights.DecodeUnsigned256(in block), y.Codes), ones);
            return TWeights.Offset == 0 ? lanes : lanes + y.Bias;
        }

        Vector256<sbyte> q = TWeights.Decode256(in block);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(q), Avx2.Sign(y.Codes, q)), ones);
    }
}

/// <summary>SSSE3: the <see cref="Avx2Path"/> sequence on two 128-bit halves.</summary>
internal readonly struct Ssse3Path : IPath128<Halves>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Halves LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights =>
        new(Vector128.LoadUnsafe(in y), Vector128.LoadUnsafe(in y, 16));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Lanes<TWeights>(ref readonly byte block, Halves y) where TWeights : IBlock32Weights
    {
        Vector128<sbyte> low = TWeights.Decode128(in block, out Vector128<sbyte> high);
        Vector128<short> ones = Vector128.Create((short)1);
        return Sse2.MultiplyAddAdjacent(Pairs<TWeights>(low, y.Low), ones) + Sse2.MultiplyAddAdjacent(Pairs<TWeights>(high, y.High), ones);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Pairs<TWeights>(Vector128<sbyte> q, Vector128<sbyte> y) where TWeights : IBlock32Weights =>
        TWeights.NonNegative ? Ssse3.MultiplyAddAdjacent(q.AsByte(), y) : Ssse3.MultiplyAddAdjacent(Ssse3.Abs(q), Ssse3.Sign(y, q));
}

/// <summary>arm64 with the dot-product extension: two <c>SDOT</c> per block.</summary>
internal readonly struct AdvSimdDpPath : IPath128<Halves>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Halves LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights =>
        new(Vector128.LoadUnsafe(in y), Vector128.LoadUnsafe(in y, 16));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Lanes<TWeights>(ref readonly byte block, Halves y) where TWeights : IBlock32Weights
    {
        Vector128<sbyte> low = TWeights.Decode128(in block, out Vector128<sbyte> high);
        return Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, low, y.Low), high, y.High);
    }
}

/// <summary>arm64 without the dot-product extension: int16 products (<c>SMULL</c>/<c>SMULL2</c>) summed pairwise into int32.</summary>
internal readonly struct AdvSimdPath : IPath128<Halves>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Halves LoadY<TWeights>(ref readonly sbyte y) where TWeights : IBlock32Weights =>
        new(Vector128.LoadUnsafe(in y), Vector128.LoadUnsafe(in y, 16));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Lanes<TWeights>(ref readonly byte block, Halves y) where TWeights : IBlock32Weights
    {
        Vector128<sbyte> low = TWeights.Decode128(in block, out Vector128<sbyte> high);
        Vector128<int> sum = AdvSimd.AddPairwiseWidening(AdvSimd.MultiplyWideningLower(low.GetLower(), y.Low.GetLower()));
        sum = AdvSimd.AddPairwiseWideningAndAdd(sum, AdvSimd.MultiplyWideningUpper(low, y.Low));
        sum = AdvSimd.AddPairwiseWideningAndAdd(sum, AdvSimd.MultiplyWideningLower(high.GetLower(), y.High.GetLower()));
        return AdvSimd.AddPairwiseWideningAndAdd(sum, AdvSimd.MultiplyWideningUpper(high, y.High));
    }
}

/// <summary>Row loops over activation blocks read straight from the quantized activation row (one row, nothing prepared).</summary>
internal readonly struct RawActivations;

/// <summary>Row loops over activation blocks prepared once per tile.</summary>
internal readonly struct PreparedActivations;
