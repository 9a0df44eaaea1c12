using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// The integer row products of the asymmetric 4-bit group schemes (GPTQ and AWQ at 4 bits) with 8-bit activations, on
/// AVX2: the activations are quantized once per call, per chunk of 32 in the scheme's column order, to q = round(x / d)
/// with d = max |x| / 127 (nearest, ties to even), as the GGUF formats' integer products quantize theirs. A chunk's 16
/// code bytes then meet its 32 activation bytes in one unsigned × signed byte multiply-add: Σ code · q exactly in int32,
/// scaled by d in float. The zero point never touches the codes: Σ (code − zero) · d · q = d · Σ code · q − zero · d · Σ q,
/// and Σc d · Σ q per group is one number per call, so a row pays one multiply-add per group for it.
/// </summary>
internal static unsafe class Int4GroupQ8Dot
{
    public const int Chunk = 32;

    public static bool Supports(in SchemeLayout layout) => Avx2.IsSupported && Int4GroupDot.Supports(layout);

    /// <summary>
    /// The quantized activations of one input vector: <paramref name="q"/> (one byte per column, every chunk of 32 in the
    /// kernels' order: the 16 even columns, then the 16 odd ones), <paramref name="d"/> (one scale per chunk) and
    /// <paramref name="groupSums"/> (Σ d · Σ q over each group's chunks).
    /// </summary>
    public static void PrepareActivations(ReadOnlySpan<float> x, int[]? columnInputs, int groupLength, Span<sbyte> q, Span<float> d, Span<float> groupSums)
    {
        Span<float> chunk = stackalloc float[Chunk];
        int chunksPerGroup = groupLength / Chunk;
        for (int c = 0; c < d.Length; c++)
        {
            int first = c * Chunk;
            for (int p = 0; p < 16; p++)
            {
                int even = first + 2 * p;
                chunk[p] = x[columnInputs is null ? even : columnInputs[even]];
                chunk[16 + p] = x[columnInputs is null ? even + 1 : columnInputs[even + 1]];
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
        byte* codes = tensor + (long)row * layout.RowCodeBytes;
        long first = layout.ScaleIndex(row, 0);
        float* scales = (float*)(tensor + layout.ScalesOffset) + first;
        byte* zeros = tensor + layout.ZeroPointsOffset + first;
        int groups = layout.GroupsPerRow;
        int chunks = layout.GroupLength / Chunk;
        Vector256<byte> nibble = Vector256.Create((byte)0x0F);
        Vector256<short> ones = Vector256<short>.One;
        Vector256<float> total = Vector256<float>.Zero;
        float zeroTerm = 0;
        for (int g = 0; g < groups; g++)
        {
            Vector256<float> sum = Vector256<float>.Zero;
            for (int k = 0; k < chunks; k++)
            {
                // low nibbles (the even columns) in the lower half, high nibbles (the odd ones) in the upper half
                Vector128<byte> packed = Vector128.Load(codes);
                Vector256<byte> both = Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & nibble;
                Vector256<short> pairs = Avx2.MultiplyAddAdjacent(both, Vector256.Load(q));
                Vector256<int> quads = Avx2.MultiplyAddAdjacent(pairs, ones);
                sum = Int4GroupDot.Mac(Vector256.ConvertToSingle(quads), Vector256.Create(*d), sum);
                codes += Chunk / 2;
                q += Chunk;
                d++;
            }

            total = Int4GroupDot.Mac(sum, Vector256.Create(scales[g]), total);
            zeroTerm += scales[g] * zeros[g] * groupSums[g];
        }

        return Vector256.Sum(total) - zeroTerm;
    }
}
