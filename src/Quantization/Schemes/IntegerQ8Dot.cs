using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CommunityToolkit.HighPerformance.Buffers;
using CommunityToolkit.HighPerformance.Helpers;
using Quantization.Kernels;

namespace Quantization.Schemes;

/// <summary>
/// The integer products of 4- and 8-bit integer schemes (symmetric or with zero points; GPTQ and AWQ layers at 4 bits)
/// with 8-bit activations, on AVX2: the activations are quantized once per call, per chunk of 32 in the scheme's column order,
/// to q = round(x / d) with d = max |x| / 127 (nearest, ties to even), as the GGUF formats' integer products quantize
/// theirs. A chunk's codes then meet its 32 activation bytes in one unsigned × signed byte multiply-add (4-bit codes as they
/// are, 8-bit ones as code − 128 with the sign moved onto the activation): Σ code · q exactly in int32, scaled by d in float. The zero point never touches the codes: Σ (code − zero) · d · q =
/// d · Σ code · q − zero · d · Σ q, and Σ d · Σ q over a group's chunks is one number per call, so a row pays one
/// multiply-add per group for it.
/// </summary>
internal static unsafe class IntegerQ8Dot
{
    public const int Chunk = 32;

    /// <summary>4- and 8-bit integer codes whose scale groups (and rows) are whole chunks of 32.</summary>
    public static bool Supports(in SchemeLayout layout) =>
        Avx2.IsSupported
        && layout.Scheme is { Element: SchemeElement.Integer, Bits: 4 or 8 }
        && layout.GroupLength % Chunk == 0 && layout.Columns % layout.GroupLength == 0;

    /// <summary>
    /// y[b] = W · x[b] for <paramref name="batch"/> inputs; <paramref name="columnInputs"/> (or null for the identity)
    /// names the input of each column. Arguments are checked by the caller.
    /// </summary>
    public static void MatMul(in SchemeLayout layout, ReadOnlySpan<byte> weights, ReadOnlySpan<float> x, int[]? columnInputs,
                              Span<float> y, int batch, int parts)
    {
        int columns = layout.Columns;
        int chunks = columns / Chunk;
        int groups = layout.GroupsPerRow;
        using SpanOwner<sbyte> codes = SpanOwner<sbyte>.Allocate(batch * columns);
        using SpanOwner<float> scales = SpanOwner<float>.Allocate(batch * (chunks + groups));
        Span<float> d = scales.Span[..(batch * chunks)];
        Span<float> sums = scales.Span.Slice(batch * chunks, batch * groups);
        for (int b = 0; b < batch; b++)
        {
            PrepareActivations(x.Slice(b * columns, columns), columnInputs, layout.GroupLength, layout.Scheme.Bits == 4,
                               codes.Span.Slice(b * columns, columns), d.Slice(b * chunks, chunks), sums.Slice(b * groups, groups));
        }

        fixed (byte* w = weights)
        fixed (sbyte* q = codes.Span)
        fixed (float* dp = d)
        fixed (float* sp = sums)
        fixed (float* yp = y)
        {
            var work = new Rows(layout, w, q, dp, sp, yp, batch, parts);
            if (parts == 1)
            {
                work.Invoke(0);
            }
            else
            {
                ParallelHelper.For(0, parts, in work, minimumActionsPerThread: 1);
            }
        }
    }

    /// <summary>
    /// The quantized activations of one input vector: <paramref name="q"/> (one byte per column; for nibbles every chunk
    /// of 32 in the kernel's order: the 16 even columns, then the 16 odd ones — the order in which the low and high nibbles
    /// of 16 code bytes meet them), <paramref name="d"/> (one scale per chunk) and <paramref name="groupSums"/> (Σ d · Σ q
    /// over each group's chunks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PrepareActivations(ReadOnlySpan<float> x, int[]? columnInputs, int groupLength, bool nibbles, Span<sbyte> q, Span<float> d, Span<float> groupSums)
    {
        Span<float> chunk = stackalloc float[Chunk];
        int chunksPerGroup = groupLength / Chunk;
        for (int c = 0; c < d.Length; c++)
        {
            int first = c * Chunk;
            for (int p = 0; p < 16; p++)
            {
                int even = first + 2 * p;
                int low = nibbles ? p : 2 * p, high = nibbles ? 16 + p : 2 * p + 1;
                chunk[low] = x[columnInputs is null ? even : columnInputs[even]];
                chunk[high] = x[columnInputs is null ? even + 1 : columnInputs[even + 1]];
            }

            float amax = 0;
            foreach (float v in chunk)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            float scale = amax / 127;
            float inverse = amax == 0 ? 0 : 127 / amax;
            int sum = 0;
            Span<sbyte> codes = q.Slice(first, Chunk);
            for (int i = 0; i < Chunk; i++)
            {
                int code = (int)MathF.Round(chunk[i] * inverse);
                codes[i] = (sbyte)code;
                sum += code;
            }

            d[c] = scale;
            if (c % chunksPerGroup == 0)
            {
                groupSums[c / chunksPerGroup] = 0;
            }

            groupSums[c / chunksPerGroup] += scale * sum;
        }
    }

    /// <summary>Σg scale[g] · (Σc d[c] · Σ code · q − zero[g] · groupSums[g]) over one row.</summary>
    public static float DotRow(in SchemeLayout layout, byte* tensor, int row, sbyte* q, float* d, float* groupSums)
    {
        long first = layout.ScaleIndex(row, 0);
        byte* scales = tensor + layout.ScalesOffset + first * layout.ScaleBytes;
        byte* zeros = layout.Scheme.HasZeroPoints ? tensor + layout.ZeroPointsOffset + first : null;
        return (layout.Scheme.Bits, layout.Scheme.ScaleType) switch
        {
            (4, SchemeScaleType.F32) => DotRow<Nibbles, F32Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
            (4, SchemeScaleType.F16) => DotRow<Nibbles, F16Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
            (4, _) => DotRow<Nibbles, BF16Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
            (_, SchemeScaleType.F32) => DotRow<Bytes, F32Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
            (_, SchemeScaleType.F16) => DotRow<Bytes, F16Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
            _ => DotRow<Bytes, BF16Scales>(layout, tensor, row, scales, zeros, q, d, groupSums),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop from the first call: no unoptimised tier
    private static float DotRow<TCodes, TScales>(in SchemeLayout layout, byte* tensor, int row, byte* scales, byte* zeros, sbyte* q, float* d, float* groupSums)
        where TCodes : struct, ICodes
        where TScales : struct, IScales
    {
        byte* codes = tensor + (long)row * layout.RowCodeBytes;
        int groups = layout.GroupsPerRow;
        int chunks = layout.GroupLength / Chunk;
        Vector256<short> ones = Vector256<short>.One;
        Vector256<float> total = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            Vector256<float> sum = Vector256<float>.Zero;
            for (int k = 0; k < chunks; k++)
            {
                Vector256<int> quads = Avx2.MultiplyAddAdjacent(TCodes.Products(codes, Vector256.Load(q)), ones);
                sum = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(quads), Vector256.Create(*d), sum);
                codes += TCodes.ChunkBytes;
                q += Chunk;
                d++;
            }

            total = Vector256.MultiplyAddEstimate(sum, Vector256.Create(TScales.Read(scales, g)), total);
        }

        return Vector256.Sum(total) - ZeroTerm<TCodes, TScales>(scales, zeros, groupSums, groups);
    }

    /// <summary>Σg scale[g] · (zero[g] − bias) · groupSums[g], eight groups at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ZeroTerm<TCodes, TScales>(byte* scales, byte* zeros, float* groupSums, int groups)
        where TCodes : struct, ICodes
        where TScales : struct, IScales
    {
        int symmetric = TCodes.SymmetricZero - TCodes.Bias;
        if (zeros is null && symmetric == 0)
        {
            return 0;
        }

        Vector256<float> sum = Vector256<float>.Zero;
        Vector256<float> bias = Vector256.Create((float)TCodes.Bias);
        int g = 0;
        for (; g + 8 <= groups; g += 8)
        {
            Vector256<float> zero = zeros is null
                ? Vector256.Create((float)symmetric)
                : Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(zeros + g)) - bias;
            sum = Vector256.MultiplyAddEstimate(TScales.Read8(scales, g) * zero, Vector256.Load(groupSums + g), sum);
        }

        float tail = 0;
        for (; g < groups; g++)
        {
            tail += TScales.Read(scales, g) * ((zeros is null ? TCodes.SymmetricZero : zeros[g]) - TCodes.Bias) * groupSums[g];
        }

        return Vector256.Sum(sum) + tail;
    }

    /// <summary>How a chunk's 32 codes meet its 32 activation bytes: pairwise products summed in int16, minus <see cref="Bias"/> per code.</summary>
    private interface ICodes
    {
        static abstract int ChunkBytes { get; }

        static abstract int SymmetricZero { get; }

        /// <summary>What the products already subtracted from each code: the rest of the zero point is the caller's.</summary>
        static abstract int Bias { get; }

        static abstract Vector256<short> Products(byte* codes, Vector256<sbyte> q);
    }

    /// <summary>4-bit codes, 0 … 15, as unsigned bytes: low nibbles (the even columns) in the lower half, high nibbles in the upper.</summary>
    private readonly struct Nibbles : ICodes
    {
        public static int ChunkBytes => Chunk / 2;

        public static int SymmetricZero => SchemeReference.SymmetricZero(4);

        public static int Bias => 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Products(byte* codes, Vector256<sbyte> q)
        {
            Vector128<byte> packed = Vector128.Load(codes);
            Vector256<byte> both = Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F);
            return Avx2.MultiplyAddAdjacent(both, q);
        }
    }

    /// <summary>
    /// 8-bit codes, 0 … 255: as code − 128 in a signed byte (flipping the top bit), multiplied through the magnitude and
    /// the sign moved onto the activation, so that no pair of products overflows int16 (2 · 128 · 127 at most).
    /// </summary>
    private readonly struct Bytes : ICodes
    {
        public static int ChunkBytes => Chunk;

        public static int SymmetricZero => SchemeReference.SymmetricZero(8);

        public static int Bias => 128;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Products(byte* codes, Vector256<sbyte> q)
        {
            Vector256<sbyte> w = (Vector256.Load(codes) ^ Vector256.Create((byte)0x80)).AsSByte();
            return Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(q, w));
        }
    }

    private interface IScales
    {
        static abstract float Read(byte* scales, int index);

        static abstract Vector256<float> Read8(byte* scales, int index);
    }

    private readonly struct F32Scales : IScales
    {
        public static float Read(byte* scales, int index) => Unsafe.ReadUnaligned<float>(scales + index * 4);

        public static Vector256<float> Read8(byte* scales, int index) => Vector256.Load((float*)(scales + index * 4));
    }

    private readonly struct F16Scales : IScales
    {
        public static float Read(byte* scales, int index) => Fp16.ToSingle(Unsafe.ReadUnaligned<ushort>(scales + index * 2));

        public static Vector256<float> Read8(byte* scales, int index) =>
            Vector256.Create(Read(scales, index), Read(scales, index + 1), Read(scales, index + 2), Read(scales, index + 3),
                             Read(scales, index + 4), Read(scales, index + 5), Read(scales, index + 6), Read(scales, index + 7));
    }

    private readonly struct BF16Scales : IScales
    {
        public static float Read(byte* scales, int index) => BitConverter.Int32BitsToSingle(Unsafe.ReadUnaligned<ushort>(scales + index * 2) << 16);

        public static Vector256<float> Read8(byte* scales, int index) =>
            Vector256.ShiftLeft(Avx2.ConvertToVector256Int32((ushort*)(scales + index * 2)), 16).AsSingle();
    }

    private readonly struct Rows(SchemeLayout layout, byte* weights, sbyte* q, float* d, float* groupSums, float* y, int batch, int parts) : IAction
    {
        public void Invoke(int part)
        {
            int first = (int)((long)layout.Rows * part / parts);
            int end = (int)((long)layout.Rows * (part + 1) / parts);
            int chunks = layout.Columns / Chunk;
            for (int r = first; r < end; r++)
            {
                for (int b = 0; b < batch; b++)
                {
                    y[(long)b * layout.Rows + r] = DotRow(layout, weights, r, q + (long)b * layout.Columns, d + (long)b * chunks, groupSums + (long)b * layout.GroupsPerRow);
                }
            }
        }
    }
}
