using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// NF4 / FP4 × Q8_0 dot products (the code book is <typeparamref name="TCode"/>): the integer path of
/// <see cref="QuantizedMath.MatVec"/> for bitsandbytes' 4-bit formats, which ggml does not have.
/// </summary>
/// <remarks>
/// <para>Each weight code is read through the int16 table <see cref="FourBitDotTable{TCode}"/>, T = round(code·2^14), and
/// each 32 values give an exact int32 sum s = Σ T[c]·q against one Q8_0 activation block (|s| ≤ 32·16384·127 &lt; 2^31).
/// One 64-value weight block meets two activation blocks (scales d0, d1) and adds
/// <c>absmax · 2^−14 · (d0·s0 + d1·s1)</c>, in that order in the reference.</para>
/// <para>The only approximation beyond the activations' own Q8_0 quantization: codes are represented to 2^−15 relative to
/// absmax (|T·2^−14 − code| ≤ 2^−15), well below the FP16 rounding bitsandbytes' own kernels apply to the weights, so
/// the activation quantization dominates the error. <see cref="QuantizedMath.MatVecAccurate"/> keeps the float path.</para>
/// <para>Vector paths compute the same integer sums; the activation codes are sign-extended to int16 and split into even
/// and odd elements once per call (the weights' high nibble is the even element), so every path multiplies int16 by
/// int16 (<c>vpmaddwd</c>, <c>SMLAL</c>). Each int32 lane sums at most 8 products (&lt; 2^24), so it converts to float
/// exactly. A lane's term is <c>absmax·2^−14 · (d·lane)</c> (Vector128: <c>absmax·2^−14 · (d0·lane0 + d1·lane1)</c>, the
/// reference's order), and the float result differs from the reference only in how the terms are grouped and added.</para>
/// </remarks>
internal sealed class FourBitDot<TCode> : IDotRowsKernel
    where TCode : IFourBitCode
{
    private const int BlockValues = BlockNF4.Values;
    private const int BlockBytes = BlockNF4.Size;

    /// <summary>Bytes of one Q8_0 activation block (FP16 d, 32 int8 codes); two of them per weight block.</summary>
    private const int ActivationBytes = 34;

    /// <summary>Prepared activations per weight block: 32 even and 32 odd codes as int16.</summary>
    private const int PreparedWords = 64;

    /// <summary>Prepared activation scales per weight block: d0 and d1 broadcast to the lanes of the widest path.</summary>
    private const int PreparedScales = 16;

    /// <summary>Weight blocks whose prepared activations fit on the stack (24 KiB); longer rows rent from the pool.</summary>
    private const int StackBlocks = 128;

    public static QuantType WeightType => TCode.Type;

    public static QuantType ActivationType => QuantType.Q8_0;

    /// <summary>The fastest path this process supports.</summary>
    public static DotPath BestPath => s_bestPath;

    private static readonly DotPath s_bestPath = SelectPath();

    /// <summary>
    /// The paths implemented: <see cref="DotPath.Ssse3"/> and <see cref="DotPath.AdvSimd"/> are the one Vector128 path
    /// (SSSE3 or NEON shuffles and multiply-adds); VNNI and SDOT are not used.
    /// </summary>
    public static ReadOnlySpan<DotPath> Paths => [DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimd, DotPath.Scalar];

    private static DotPath SelectPath() => DotPaths.Best(Paths);

    /// <summary>Whether <paramref name="path"/> runs on this process.</summary>
    public static bool IsSupported(DotPath path) => DotPaths.IsSupported(Paths, path);

    /// <summary>The scalar reference: per weight block, <c>sumf += absmax · 2^−14 · (d0·s0 + d1·s1)</c>.</summary>
    public static float DotReference(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        float sumf = 0;
        for (int i = 0; i < blocks; i++)
        {
            ref byte wb = ref Unsafe.Add(ref w, i * BlockBytes);
            ref byte a0 = ref Unsafe.Add(ref a, 2 * i * ActivationBytes);
            ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);
            int s0 = IntegerSumReference(in Unsafe.Add(ref wb, 4), in Codes(ref a0));
            int s1 = IntegerSumReference(in Unsafe.Add(ref wb, 20), in Codes(ref a1));
            float absmax = Unsafe.ReadUnaligned<float>(ref wb);
            sumf += absmax * FourBitDotTable<TCode>.Unit * (Scale(ref a0) * s0 + Scale(ref a1) * s1);
        }

        return sumf;
    }

    /// <summary>Σ T[c]·q over 32 values: 16 code bytes (high nibble = even element) and 32 activation codes.</summary>
    public static int IntegerSumReference(ref readonly byte qs, ref readonly sbyte y)
    {
        ReadOnlySpan<short> t = FourBitDotTable<TCode>.Values;
        ref byte q = ref Unsafe.AsRef(in qs);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sum = 0;
        for (int j = 0; j < 16; j++)
        {
            int b = Unsafe.Add(ref q, j);
            sum += t[b >> 4] * Unsafe.Add(ref yr, 2 * j) + t[b & 0x0F] * Unsafe.Add(ref yr, 2 * j + 1);
        }

        return sum;
    }

    /// <summary>The dot product on the fastest path.</summary>
    public static float Dot(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) => DotOn(BestPath, weights, activations, n);

    /// <summary>The dot product on <paramref name="path"/> (which must be supported): <see cref="DotRowsOn"/> of one row.</summary>
    public static float DotOn(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n)
    {
        int blocks = CheckLengths(weights, activations, n);
        Span<float> result = stackalloc float[1];
        DotRowsOn(path, weights, blocks * BlockBytes, activations, n, result);
        return result[0];
    }

    /// <summary>One dot product per weight row; each equals <see cref="Dot"/> of that row to the bit.</summary>
    public static void DotRows(ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results) =>
        DotRowsOn(BestPath, weights, rowBytes, activations, n, results);

    /// <summary>
    /// <see cref="DotRows"/> on <paramref name="path"/> (which must be supported). The activations are prepared once for
    /// all rows; each row is then read front to back as one stream.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    public static void DotRowsOn(DotPath path, ReadOnlySpan<byte> weights, int rowBytes, ReadOnlySpan<byte> activations, int n, Span<float> results)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (rowBytes < blocks * BlockBytes || (long)rowBytes * (results.Length - 1) + blocks * BlockBytes > weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), "The weight rows do not fit the span.");
        }

        if (!IsSupported(path))
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, "The path does not run on this process.");
        }

        ref byte w = ref MemoryMarshal.GetReference(weights);
        if (path == DotPath.Scalar)
        {
            for (int r = 0; r < results.Length; r++)
            {
                results[r] = DotReference(weights.Slice(r * rowBytes, blocks * BlockBytes), activations, n);
            }

            return;
        }

        short[]? rentedWords = null;
        float[]? rentedScales = null;
        Span<short> words = blocks <= StackBlocks ? stackalloc short[StackBlocks * PreparedWords] : (rentedWords = ArrayPool<short>.Shared.Rent(blocks * PreparedWords));
        Span<float> scales = blocks <= StackBlocks ? stackalloc float[StackBlocks * PreparedScales] : (rentedScales = ArrayPool<float>.Shared.Rent(blocks * PreparedScales));
        Prepare(path, ref MemoryMarshal.GetReference(activations), blocks, words, scales);
        ref short y = ref MemoryMarshal.GetReference(words);
        ref float d = ref MemoryMarshal.GetReference(scales);
        switch (path)
        {
            case DotPath.Avx512: Rows<Step512, Vector512<float>>(ref w, rowBytes, ref y, ref d, blocks, results); break;
            case DotPath.Avx2: Rows<Step256, Vector256<float>>(ref w, rowBytes, ref y, ref d, blocks, results); break;
            case DotPath.Ssse3 or DotPath.AdvSimd: Rows<Step128, Vector128<float>>(ref w, rowBytes, ref y, ref d, blocks, results); break;
            default: throw new ArgumentOutOfRangeException(nameof(path));
        }

        if (rentedWords is not null)
        {
            ArrayPool<short>.Shared.Return(rentedWords);
            ArrayPool<float>.Shared.Return(rentedScales!);
        }
    }

    /// <summary>
    /// Each 32 values' exact Σ T[c]·q on <paramref name="path"/>: the int32 lanes of the vector paths added up, one sum
    /// per Q8_0 activation block (two per weight block).
    /// </summary>
    public static void IntegerSums(DotPath path, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, Span<int> sums)
    {
        int blocks = CheckLengths(weights, activations, n);
        if (!IsSupported(path))
        {
            throw new ArgumentOutOfRangeException(nameof(path), path, "The path does not run on this process.");
        }

        ref byte w = ref MemoryMarshal.GetReference(weights);
        ref byte a = ref MemoryMarshal.GetReference(activations);
        short[] words = ArrayPool<short>.Shared.Rent(Math.Max(1, blocks) * PreparedWords);
        float[] scales = ArrayPool<float>.Shared.Rent(Math.Max(1, blocks) * PreparedScales);
        if (path != DotPath.Scalar)
        {
            Prepare(path, ref a, blocks, words, scales);
        }

        for (int i = 0; i < blocks; i++)
        {
            ref byte qs = ref Unsafe.Add(ref w, i * BlockBytes + 4);
            ref short y = ref words[i * PreparedWords];
            switch (path)
            {
                case DotPath.Scalar:
                    sums[2 * i] = IntegerSumReference(in qs, in Codes(ref Unsafe.Add(ref a, 2 * i * ActivationBytes)));
                    sums[2 * i + 1] = IntegerSumReference(in Unsafe.Add(ref qs, 16), in Codes(ref Unsafe.Add(ref a, (2 * i + 1) * ActivationBytes)));
                    break;
                case DotPath.Avx512:
                    Vector512<int> lanes512 = Lanes512(ref qs, ref y);
                    sums[2 * i] = Vector256.Sum(lanes512.GetLower());
                    sums[2 * i + 1] = Vector256.Sum(lanes512.GetUpper());
                    break;
                case DotPath.Avx2:
                    Vector256<int> lanes256 = Lanes256(ref qs, ref y);
                    sums[2 * i] = Vector128.Sum(lanes256.GetLower());
                    sums[2 * i + 1] = Vector128.Sum(lanes256.GetUpper());
                    break;
                case DotPath.Ssse3 or DotPath.AdvSimd:
                    sums[2 * i] = Vector128.Sum(Lanes128(ref qs, ref y, ref Unsafe.Add(ref y, 32)));
                    sums[2 * i + 1] = Vector128.Sum(Lanes128(ref Unsafe.Add(ref qs, 16), ref Unsafe.Add(ref y, 16), ref Unsafe.Add(ref y, 48)));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(path));
            }
        }

        ArrayPool<short>.Shared.Return(words);
        ArrayPool<float>.Shared.Return(scales);
    }

    /// <summary>
    /// The activations of each weight block as 32 even and 32 odd int16 codes (in the order <paramref name="path"/>
    /// multiplies them) and its two Q8_0 scales broadcast to the path's lanes.
    /// </summary>
    private static void Prepare(DotPath path, ref byte a, int blocks, Span<short> words, Span<float> scales)
    {
        ref short y = ref MemoryMarshal.GetReference(words);
        ref float s = ref MemoryMarshal.GetReference(scales);
        for (int i = 0; i < blocks; i++)
        {
            ref byte a0 = ref Unsafe.Add(ref a, 2 * i * ActivationBytes);
            ref byte a1 = ref Unsafe.Add(ref a0, ActivationBytes);

            // Little-endian words of two codes: the even element is the low byte, the odd one the high byte.
            Vector128<short> v0 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a0, 2)).AsInt16();
            Vector128<short> v1 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a0, 18)).AsInt16();
            Vector128<short> v2 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a1, 2)).AsInt16();
            Vector128<short> v3 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a1, 18)).AsInt16();
            ref short yb = ref Unsafe.Add(ref y, i * PreparedWords);

            // Eight code pairs per vector: v0 holds pairs 0..7 (values 0..15), v1 pairs 8..15, v2 16..23, v3 24..31.
            // AVX2 unpacks within 128-bit lanes, so its weight words come as pairs 0..7 | 16..23, then 8..15 | 24..31.
            bool lanes = path == DotPath.Avx2;
            Vector128<short> first = v0, second = lanes ? v2 : v1, third = lanes ? v1 : v2, fourth = v3;
            Even(first).StoreUnsafe(ref yb, 0);
            Even(second).StoreUnsafe(ref yb, 8);
            Even(third).StoreUnsafe(ref yb, 16);
            Even(fourth).StoreUnsafe(ref yb, 24);
            Odd(first).StoreUnsafe(ref yb, 32);
            Odd(second).StoreUnsafe(ref yb, 40);
            Odd(third).StoreUnsafe(ref yb, 48);
            Odd(fourth).StoreUnsafe(ref yb, 56);

            float d0 = Scale(ref a0), d1 = Scale(ref a1);
            ref float sb = ref Unsafe.Add(ref s, i * PreparedScales);
            switch (path)
            {
                case DotPath.Avx512:
                    Vector256.Create(d0).StoreUnsafe(ref sb);
                    Vector256.Create(d1).StoreUnsafe(ref sb, 8);
                    break;
                case DotPath.Avx2:
                    Vector128.Create(d0).StoreUnsafe(ref sb);
                    Vector128.Create(d1).StoreUnsafe(ref sb, 4);
                    break;
                default:
                    sb = d0;
                    Unsafe.Add(ref sb, 1) = d1;
                    break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector128<short> Even(Vector128<short> pairs) => Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(pairs, 8), 8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector128<short> Odd(Vector128<short> pairs) => Vector128.ShiftRightArithmetic(pairs, 8);
    }

    /// <summary>
    /// AVX-512BW, one weight block: the 32 code bytes zero-extended to words; T by a word permute of the high nibbles
    /// (even elements) and of the words themselves (odd elements, see <see cref="FourBitDotTable{TCode}.Words"/>); two
    /// <c>vpmaddwd</c>. Lanes 0..7 belong to the first activation block, 8..15 to the second.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Lanes512(ref byte qs, ref short y)
    {
        Vector512<short> table = FourBitDotTable<TCode>.Words;
        Vector512<short> bytes = Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref qs));
        Vector512<short> even = Avx512BW.PermuteVar32x16(table, Avx512BW.ShiftRightLogical(bytes, 4));
        Vector512<short> odd = Avx512BW.PermuteVar32x16(table, bytes);
        return Avx512BW.MultiplyAddAdjacent(even, Vector512.LoadUnsafe(ref y)) + Avx512BW.MultiplyAddAdjacent(odd, Vector512.LoadUnsafe(ref y, 32));
    }

    /// <summary>
    /// AVX2, one weight block: low and high bytes of T by two byte shuffles per nibble plane, interleaved into words;
    /// four <c>vpmaddwd</c>. Lanes 0..3 belong to the first activation block, 4..7 to the second.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Lanes256(ref byte qs, ref short y)
    {
        Vector256<byte> low = FourBitDotTable<TCode>.LowBytes256, high = FourBitDotTable<TCode>.HighBytes256;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<byte> b = Vector256.LoadUnsafe(ref qs);
        Vector256<byte> hi = Avx2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & mask;
        Vector256<byte> lo = b & mask;
        Vector256<byte> evenLow = Avx2.Shuffle(low, hi), evenHigh = Avx2.Shuffle(high, hi);
        Vector256<byte> oddLow = Avx2.Shuffle(low, lo), oddHigh = Avx2.Shuffle(high, lo);
        Vector256<int> sum = Avx2.MultiplyAddAdjacent(Avx2.UnpackLow(evenLow, evenHigh).AsInt16(), Vector256.LoadUnsafe(ref y));
        sum += Avx2.MultiplyAddAdjacent(Avx2.UnpackHigh(evenLow, evenHigh).AsInt16(), Vector256.LoadUnsafe(ref y, 16));
        sum += Avx2.MultiplyAddAdjacent(Avx2.UnpackLow(oddLow, oddHigh).AsInt16(), Vector256.LoadUnsafe(ref y, 32));
        return sum + Avx2.MultiplyAddAdjacent(Avx2.UnpackHigh(oddLow, oddHigh).AsInt16(), Vector256.LoadUnsafe(ref y, 48));
    }

    /// <summary>
    /// Vector128 (SSSE3 or NEON), 32 values: T by two byte shuffles (<c>pshufb</c> / <c>TBL</c>) per nibble plane,
    /// interleaved into words (<c>punpck</c> / <c>ZIP</c>); <c>pmaddwd</c>, or <c>SMLAL</c> / <c>SMLAL2</c> on arm64.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Lanes128(ref byte qs, ref short even, ref short odd)
    {
        Vector128<byte> b = Vector128.LoadUnsafe(ref qs);
        Vector128<byte> hi = Vector128.ShiftRightLogical(b, 4);
        Vector128<byte> lo = b & Vector128.Create((byte)0x0F);
        Vector128<short> e0, e1, o0, o1;
        Interleave(Lookup(FourBitDotTable<TCode>.LowBytes, hi), Lookup(FourBitDotTable<TCode>.HighBytes, hi), out e0, out e1);
        Interleave(Lookup(FourBitDotTable<TCode>.LowBytes, lo), Lookup(FourBitDotTable<TCode>.HighBytes, lo), out o0, out o1);
        Vector128<short> ye0 = Vector128.LoadUnsafe(ref even), ye1 = Vector128.LoadUnsafe(ref even, 8);
        Vector128<short> yo0 = Vector128.LoadUnsafe(ref odd), yo1 = Vector128.LoadUnsafe(ref odd, 8);
        if (Sse2.IsSupported)
        {
            return Sse2.MultiplyAddAdjacent(e0, ye0) + Sse2.MultiplyAddAdjacent(e1, ye1)
                 + Sse2.MultiplyAddAdjacent(o0, yo0) + Sse2.MultiplyAddAdjacent(o1, yo1);
        }

        Vector128<int> sum = AdvSimd.MultiplyWideningLower(e0.GetLower(), ye0.GetLower());
        sum = AdvSimd.MultiplyWideningUpperAndAdd(sum, e0, ye0);
        sum = AdvSimd.MultiplyWideningLowerAndAdd(sum, e1.GetLower(), ye1.GetLower());
        sum = AdvSimd.MultiplyWideningUpperAndAdd(sum, e1, ye1);
        sum = AdvSimd.MultiplyWideningLowerAndAdd(sum, o0.GetLower(), yo0.GetLower());
        sum = AdvSimd.MultiplyWideningUpperAndAdd(sum, o0, yo0);
        sum = AdvSimd.MultiplyWideningLowerAndAdd(sum, o1.GetLower(), yo1.GetLower());
        return AdvSimd.MultiplyWideningUpperAndAdd(sum, o1, yo1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Lookup(Vector128<byte> table, Vector128<byte> nibbles) =>
        Ssse3.IsSupported ? Ssse3.Shuffle(table, nibbles) : AdvSimd.Arm64.VectorTableLookup(table, nibbles);

    /// <summary>Low and high table bytes into 16 words, in nibble order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(Vector128<byte> low, Vector128<byte> high, out Vector128<short> first, out Vector128<short> second)
    {
        if (Sse2.IsSupported)
        {
            first = Sse2.UnpackLow(low, high).AsInt16();
            second = Sse2.UnpackHigh(low, high).AsInt16();
        }
        else
        {
            first = AdvSimd.Arm64.ZipLow(low, high).AsInt16();
            second = AdvSimd.Arm64.ZipHigh(low, high).AsInt16();
        }
    }

    /// <summary>
    /// Row after row, two accumulators taking weight blocks in turn; <typeparamref name="TWidth"/> is one vector path's
    /// block step (a struct, so each path gets its own code with the step inlined).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the first call runs optimised code (see docs/architecture.md#first-calls)
    private static void Rows<TWidth, TAcc>(ref byte w, int rowBytes, ref short y, ref float d, int blocks, Span<float> results)
        where TWidth : struct, IBlockStep<TAcc>
        where TAcc : struct
    {
        for (int r = 0; r < results.Length; r++)
        {
            ref byte row = ref Unsafe.Add(ref w, r * rowBytes);
            TAcc acc0 = default, acc1 = default;
            int i = 0;
            for (; i + 2 <= blocks; i += 2)
            {
                acc0 = TWidth.Block(ref row, ref y, ref d, i, acc0);
                acc1 = TWidth.Block(ref row, ref y, ref d, i + 1, acc1);
            }

            if (i < blocks)
            {
                acc0 = TWidth.Block(ref row, ref y, ref d, i, acc0);
            }

            results[r] = TWidth.Sum(acc0, acc1);
        }
    }

    /// <summary>One vector path's work per weight block, and the sum of its two accumulators at the end of a row.</summary>
    private interface IBlockStep<TAcc>
    {
        /// <summary>Weight block <paramref name="i"/> of <paramref name="row"/> added into <paramref name="acc"/>.</summary>
        static abstract TAcc Block(ref byte row, ref short y, ref float d, int i, TAcc acc);

        static abstract float Sum(TAcc acc0, TAcc acc1);
    }

    private readonly struct Step512 : IBlockStep<Vector512<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Block(ref byte row, ref short y, ref float d, int i, Vector512<float> acc)
        {
            ref byte wb = ref Unsafe.Add(ref row, i * BlockBytes);
            Vector512<int> lanes = Lanes512(ref Unsafe.Add(ref wb, 4), ref Unsafe.Add(ref y, i * PreparedWords));
            Vector512<float> scaled = Vector512.ConvertToSingle(lanes) * Vector512.LoadUnsafe(ref d, (nuint)(i * PreparedScales));
            return Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.ReadUnaligned<float>(ref wb) * FourBitDotTable<TCode>.Unit), scaled, acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sum(Vector512<float> acc0, Vector512<float> acc1) => Vector512.Sum(acc0 + acc1);
    }

    private readonly struct Step256 : IBlockStep<Vector256<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Block(ref byte row, ref short y, ref float d, int i, Vector256<float> acc)
        {
            ref byte wb = ref Unsafe.Add(ref row, i * BlockBytes);
            Vector256<int> lanes = Lanes256(ref Unsafe.Add(ref wb, 4), ref Unsafe.Add(ref y, i * PreparedWords));
            Vector256<float> scaled = Vector256.ConvertToSingle(lanes) * Vector256.LoadUnsafe(ref d, (nuint)(i * PreparedScales));
            return Vector256.MultiplyAddEstimate(Vector256.Create(Unsafe.ReadUnaligned<float>(ref wb) * FourBitDotTable<TCode>.Unit), scaled, acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sum(Vector256<float> acc0, Vector256<float> acc1) => Vector256.Sum(acc0 + acc1);
    }

    private readonly struct Step128 : IBlockStep<Vector128<float>>
    {
        /// <summary>One weight block: lane by lane <c>absmax·2^−14 · (d0·s0 + d1·s1)</c>, the reference's order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Block(ref byte row, ref short y, ref float d, int i, Vector128<float> acc)
        {
            ref byte wb = ref Unsafe.Add(ref row, i * BlockBytes);
            ref short yb = ref Unsafe.Add(ref y, i * PreparedWords);
            ref float db = ref Unsafe.Add(ref d, i * PreparedScales);
            Vector128<int> s0 = Lanes128(ref Unsafe.Add(ref wb, 4), ref yb, ref Unsafe.Add(ref yb, 32));
            Vector128<int> s1 = Lanes128(ref Unsafe.Add(ref wb, 20), ref Unsafe.Add(ref yb, 16), ref Unsafe.Add(ref yb, 48));
            Vector128<float> sum = Vector128.Create(db) * Vector128.ConvertToSingle(s0) + Vector128.Create(Unsafe.Add(ref db, 1)) * Vector128.ConvertToSingle(s1);
            return Vector128.MultiplyAddEstimate(Vector128.Create(Unsafe.ReadUnaligned<float>(ref wb) * FourBitDotTable<TCode>.Unit), sum, acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sum(Vector128<float> acc0, Vector128<float> acc1) => Vector128.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref sbyte Codes(ref byte activationBlock) => ref Unsafe.As<byte, sbyte>(ref Unsafe.Add(ref activationBlock, 2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(ref byte activationBlock) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(ref activationBlock));

    private static int CheckLengths(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n) =>
        DotLengths.Blocks(weights, activations, n, BlockValues, BlockBytes, 2 * ActivationBytes);
}
