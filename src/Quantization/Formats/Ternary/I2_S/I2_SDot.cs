using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// I2_S × I8_S, bitnet.cpp's <c>ggml_vec_dot_i2_i8_s</c> and the finish of its matrix product: the exact integer
/// Σ code·q over the row with the codes unsigned (0, 1, 2; <c>vpmaddubsw</c>- and SDOT-friendly), then
/// <c>(float)(Σ code·q − Σq) / s</c> with the activations' scale s and sum Σq from their trailer. The weight tensor's
/// scale is applied by the caller (<see cref="TensorScale"/>), as bitnet.cpp multiplies by it last:
/// <c>y = (Σ code·q − Σq) / s · scale</c>. Every path's integer sum equals the reference's, on any bytes: code 3, which
/// the quantizer never writes, counts as 3 here as in bitnet.cpp (it dequantizes to 0).
/// </summary>
internal sealed class I2_SDot : ITensorDotKernel
{
    private const int BlockValues = I2_SReference.BlockSize;

    public static QuantType WeightType => QuantType.I2_S;

    public static QuantType ActivationType => QuantType.I8_S;

    /// <summary>The fastest path this process supports (folded to a constant by the JIT).</summary>
    public static DotPath BestPath => s_bestPath;

    private static readonly DotPath s_bestPath = SelectPath();

    /// <summary>The paths implemented (AVX-VNNI has no I2_S path: it is <see cref="DotPath.Avx2"/>'s job).</summary>
    public static ReadOnlySpan<DotPath> Paths =>
        [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    private static DotPath SelectPath() => DotPaths.Best(Paths);

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    /// <summary>The weight tensor's scale, read from its trailer: the factor of every row's <see cref="Dot"/>.</summary>
    public static float TensorScale(ReadOnlySpan<byte> trailer) => I2_SReference.ReadScale(trailer);

    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotOn(BestPath, weights, activations, n);

    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotOn(DotPath.Scalar, weights, activations, n);

    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary><see cref="Dot"/> on <paramref name="path"/>, which must be supported.</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        float result = 0;
        DotRowsOn(path, weights, weights.Length, activations, n, new Span<float>(ref result));
        return result;
    }

    /// <summary><see cref="DotRows"/> on <paramref name="path"/> (which must be supported): the lengths and the activation trailer are read once for all rows.</summary>
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        switch (path)
        {
            case DotPath.Avx512: Rows<Avx512Sum>(weights, rowBytes, activations, n, results); break;
            case DotPath.Avx2: Rows<Avx2Sum>(weights, rowBytes, activations, n, results); break;
            case DotPath.Ssse3: Rows<Ssse3Sum>(weights, rowBytes, activations, n, results); break;
            case DotPath.AdvSimdDp: Rows<DpSum>(weights, rowBytes, activations, n, results); break;
            case DotPath.AdvSimd: Rows<AdvSimdSum>(weights, rowBytes, activations, n, results); break;
            default: Rows<ReferenceSum>(weights, rowBytes, activations, n, results); break;
        }
    }

    /// <summary>Σ code·q over <paramref name="n"/> values on <paramref name="path"/> (which must be supported).</summary>
    public static int IntegerSum(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights.Length, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref sbyte a = ref Unsafe.As<byte, sbyte>(ref MemoryMarshal.GetReference(activations));
        return path switch
        {
            DotPath.Avx512 => Avx512Sum.Sum(ref w, ref a, blocks),
            DotPath.Avx2 => Avx2Sum.Sum(ref w, ref a, blocks),
            DotPath.Ssse3 => Ssse3Sum.Sum(ref w, ref a, blocks),
            DotPath.AdvSimdDp => DpSum.Sum(ref w, ref a, blocks),
            DotPath.AdvSimd => AdvSimdSum.Sum(ref w, ref a, blocks),
            _ => ReferenceSum.Sum(ref w, ref a, blocks),
        };
    }

    private static void Rows<TSum>(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
        where TSum : struct, IRowSum
    {
        if (results.IsEmpty)
        {
            return;
        }

        int blocks = CheckLengths(weights.Length - (long)(results.Length - 1) * rowBytes, activations, n);
        ReadOnlySpan<byte> trailer = activations.Slice(n, I8_SReference.TrailerBytes);
        float s = I8_SReference.ReadScale(trailer);
        int sumq = I8_SReference.ReadSum(trailer);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref sbyte a = ref Unsafe.As<byte, sbyte>(ref MemoryMarshal.GetReference(activations));
        for (int r = 0; r < results.Length; r++)
        {
            int sumi = TSum.Sum(ref Unsafe.Add(ref w, (nint)r * rowBytes), ref a, blocks);
            results[r] = (float)(sumi - sumq) / s;
        }
    }

    /// <summary>Checks n (a non-negative multiple of 128) and both spans (the activations with their trailer) against it.</summary>
    private static int CheckLengths(long weightsLength, ReadOnlySpan<byte> activations, int n)
    {
        if (n < 0 || n % BlockValues != 0)
        {
            ThrowHelper.ThrowArgument(nameof(n), $"The length {n} is not a non-negative multiple of {BlockValues}.");
        }

        int blocks = n / BlockValues;
        if (weightsLength < blocks * BlockI2_S.Size)
        {
            ThrowHelper.ThrowArgument("weights", $"The weight row has {weightsLength} bytes; {n} values take {blocks * BlockI2_S.Size}.");
        }

        if (activations.Length < (long)n + I8_SReference.TrailerBytes)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"The activation row has {activations.Length} bytes; {n} values and the trailer take {(long)n + I8_SReference.TrailerBytes}.");
        }

        return blocks;
    }

    /// <summary>The scalar reference, in bitnet.cpp's element order: byte j of a block holds elements j, j + 32, j + 64, j + 96.</summary>
    private readonly struct ReferenceSum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            int sum = 0;
            for (int i = 0; i < blocks; i++)
            {
                for (int group = 0; group < 4; group++)
                {
                    for (int j = 0; j < 32; j++)
                    {
                        int code = (Unsafe.Add(ref w, i * BlockI2_S.Size + j) >> (6 - 2 * group)) & 3;
                        sum += code * Unsafe.Add(ref a, i * BlockValues + 32 * group + j);
                    }
                }
            }

            return sum;
        }
    }

    // The vector paths multiply unsigned codes (≤ 3) by int8 activations (≥ −128): one product is at most 384 in
    // magnitude and a vpmaddubsw pair 768, so int16 accumulators take 32767 / 768 = 42 pair sums per lane before they are
    // widened. Each path widens after a whole number of blocks that stays below that.

    /// <summary>
    /// AVX-512BW: the block's 32 code bytes in both halves of a 512-bit vector, shifted per half (vpsrlvw by 6 | 4, then
    /// 2 | 0), give the codes of elements 0..63 and 64..127 in activation order. Two pair sums per lane per block.
    /// </summary>
    private readonly struct Avx512Sum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            const int BlocksPerFlush = 16;
            Vector512<ushort> high = Vector512.Create(Vector256.Create((ushort)6), Vector256.Create((ushort)4));
            Vector512<ushort> low = Vector512.Create(Vector256.Create((ushort)2), Vector256<ushort>.Zero);
            Vector512<byte> three = Vector512.Create((byte)3);
            Vector512<int> acc = Vector512<int>.Zero;
            for (int i = 0; i < blocks;)
            {
                Vector512<short> acc16 = Vector512<short>.Zero;
                for (int end = Math.Min(blocks, i + BlocksPerFlush); i < end; i++)
                {
                    Vector256<byte> qs = Vector256.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size));
                    // vinserti64x4 into the register that already holds qs (Vector512.Create(qs, qs) goes through the stack).
                    Vector512<ushort> both = Avx512F.InsertVector256(qs.ToVector512Unsafe(), qs, 1).AsUInt16();
                    ref sbyte ab = ref Unsafe.Add(ref a, i * BlockValues);
                    acc16 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogicalVariable(both, high).AsByte() & three, Vector512.LoadUnsafe(ref ab));
                    acc16 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogicalVariable(both, low).AsByte() & three, Vector512.LoadUnsafe(ref ab, 64));
                }

                acc += Avx512BW.MultiplyAddAdjacent(acc16, Vector512<short>.One);
            }

            return Vector512.Sum(acc);
        }
    }

    /// <summary>AVX2: the 32 code bytes shifted by 6, 4, 2, 0 give elements 0..31, 32..63, 64..95, 96..127. Four pair sums per lane per block.</summary>
    private readonly struct Avx2Sum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            const int BlocksPerFlush = 8;
            Vector256<byte> three = Vector256.Create((byte)3);
            Vector256<int> acc = Vector256<int>.Zero;
            for (int i = 0; i < blocks;)
            {
                Vector256<short> acc16 = Vector256<short>.Zero;
                for (int end = Math.Min(blocks, i + BlocksPerFlush); i < end; i++)
                {
                    Vector256<ushort> qs = Vector256.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size)).AsUInt16();
                    ref sbyte ab = ref Unsafe.Add(ref a, i * BlockValues);
                    // 16-bit shifts: the bits pulled in from the neighbouring byte fall outside the mask.
                    acc16 += Avx2.MultiplyAddAdjacent((qs >> 6).AsByte() & three, Vector256.LoadUnsafe(ref ab));
                    acc16 += Avx2.MultiplyAddAdjacent((qs >> 4).AsByte() & three, Vector256.LoadUnsafe(ref ab, 32));
                    acc16 += Avx2.MultiplyAddAdjacent((qs >> 2).AsByte() & three, Vector256.LoadUnsafe(ref ab, 64));
                    acc16 += Avx2.MultiplyAddAdjacent(qs.AsByte() & three, Vector256.LoadUnsafe(ref ab, 96));
                }

                acc += Avx2.MultiplyAddAdjacent(acc16, Vector256<short>.One);
            }

            return Vector256.Sum(acc);
        }
    }

    /// <summary>SSSE3: the AVX2 steps on the two 16-byte halves of the block (elements 32g + 0..15 and 32g + 16..31). Eight pair sums per lane per block.</summary>
    private readonly struct Ssse3Sum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            const int BlocksPerFlush = 4;
            Vector128<byte> three = Vector128.Create((byte)3);
            Vector128<int> acc = Vector128<int>.Zero;
            for (int i = 0; i < blocks;)
            {
                Vector128<short> acc16 = Vector128<short>.Zero;
                for (int end = Math.Min(blocks, i + BlocksPerFlush); i < end; i++)
                {
                    ref sbyte ab = ref Unsafe.Add(ref a, i * BlockValues);
                    for (int h = 0; h < 2; h++)
                    {
                        Vector128<ushort> qs = Vector128.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size + 16 * h)).AsUInt16();
                        acc16 += Ssse3.MultiplyAddAdjacent((qs >> 6).AsByte() & three, Vector128.LoadUnsafe(ref ab, (nuint)(16 * h)));
                        acc16 += Ssse3.MultiplyAddAdjacent((qs >> 4).AsByte() & three, Vector128.LoadUnsafe(ref ab, (nuint)(32 + 16 * h)));
                        acc16 += Ssse3.MultiplyAddAdjacent((qs >> 2).AsByte() & three, Vector128.LoadUnsafe(ref ab, (nuint)(64 + 16 * h)));
                        acc16 += Ssse3.MultiplyAddAdjacent(qs.AsByte() & three, Vector128.LoadUnsafe(ref ab, (nuint)(96 + 16 * h)));
                    }
                }

                acc += Sse2.MultiplyAddAdjacent(acc16, Vector128<short>.One);
            }

            return Vector128.Sum(acc);
        }
    }

    /// <summary>arm64 with the dot-product extension: SDOT of the codes (0..3 as int8) and the activations into int32 lanes.</summary>
    private readonly struct DpSum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            Vector128<byte> three = Vector128.Create((byte)3);
            Vector128<int> acc0 = Vector128<int>.Zero;
            Vector128<int> acc1 = Vector128<int>.Zero;
            for (int i = 0; i < blocks; i++)
            {
                ref sbyte ab = ref Unsafe.Add(ref a, i * BlockValues);
                Vector128<byte> q0 = Vector128.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size));
                Vector128<byte> q1 = Vector128.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size + 16));
                acc0 = Dp.DotProduct(acc0, AdvSimd.ShiftRightLogical(q0, 6).AsSByte(), Vector128.LoadUnsafe(ref ab));
                acc1 = Dp.DotProduct(acc1, AdvSimd.ShiftRightLogical(q1, 6).AsSByte(), Vector128.LoadUnsafe(ref ab, 16));
                acc0 = Dp.DotProduct(acc0, (AdvSimd.ShiftRightLogical(q0, 4) & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 32));
                acc1 = Dp.DotProduct(acc1, (AdvSimd.ShiftRightLogical(q1, 4) & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 48));
                acc0 = Dp.DotProduct(acc0, (AdvSimd.ShiftRightLogical(q0, 2) & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 64));
                acc1 = Dp.DotProduct(acc1, (AdvSimd.ShiftRightLogical(q1, 2) & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 80));
                acc0 = Dp.DotProduct(acc0, (q0 & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 96));
                acc1 = Dp.DotProduct(acc1, (q1 & three).AsSByte(), Vector128.LoadUnsafe(ref ab, 112));
            }

            return Vector128.Sum(acc0 + acc1);
        }
    }

    /// <summary>arm64 without it: SMLAL / SMLAL2 into int16 lanes (two products per lane per vector, 16 per block), SADALP into int32.</summary>
    private readonly struct AdvSimdSum : IRowSum
    {
        public static int Sum(ref byte w, ref sbyte a, int blocks)
        {
            const int BlocksPerFlush = 4;
            Vector128<byte> three = Vector128.Create((byte)3);
            Vector128<int> acc = Vector128<int>.Zero;
            for (int i = 0; i < blocks;)
            {
                Vector128<short> acc16 = Vector128<short>.Zero;
                for (int end = Math.Min(blocks, i + BlocksPerFlush); i < end; i++)
                {
                    ref sbyte ab = ref Unsafe.Add(ref a, i * BlockValues);
                    for (int h = 0; h < 2; h++)
                    {
                        Vector128<byte> qs = Vector128.LoadUnsafe(ref w, (nuint)(i * BlockI2_S.Size + 16 * h));
                        acc16 = MultiplyAdd(acc16, AdvSimd.ShiftRightLogical(qs, 6), Vector128.LoadUnsafe(ref ab, (nuint)(16 * h)));
                        acc16 = MultiplyAdd(acc16, AdvSimd.ShiftRightLogical(qs, 4) & three, Vector128.LoadUnsafe(ref ab, (nuint)(32 + 16 * h)));
                        acc16 = MultiplyAdd(acc16, AdvSimd.ShiftRightLogical(qs, 2) & three, Vector128.LoadUnsafe(ref ab, (nuint)(64 + 16 * h)));
                        acc16 = MultiplyAdd(acc16, qs & three, Vector128.LoadUnsafe(ref ab, (nuint)(96 + 16 * h)));
                    }
                }

                acc = AdvSimd.AddPairwiseWideningAndAdd(acc, acc16);
            }

            return Vector128.Sum(acc);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            static Vector128<short> MultiplyAdd(Vector128<short> acc, Vector128<byte> codes, Vector128<sbyte> q)
            {
                Vector128<sbyte> c = codes.AsSByte();
                acc = AdvSimd.MultiplyWideningLowerAndAdd(acc, c.GetLower(), q.GetLower());
                return AdvSimd.MultiplyWideningUpperAndAdd(acc, c, q);
            }
        }
    }

    private interface IRowSum
    {
        /// <summary>Σ code·q over <paramref name="blocks"/> blocks of one row.</summary>
        static abstract int Sum(ref byte w, ref sbyte a, int blocks);
    }
}
