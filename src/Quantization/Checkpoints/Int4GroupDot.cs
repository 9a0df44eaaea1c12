using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>
/// The row products of the asymmetric 4-bit group schemes (float32 scales) that GPTQ and AWQ layers repack into, on
/// AVX-512 and AVX2: on AVX-512 the 16 possible weights (code − zero) of a group are one vector, and 16 codes at a time
/// are looked up in it by a lane permute instead of being converted; on AVX2 the codes are widened, the zero point
/// subtracted in int32 and the difference converted. Each group's sum is scaled once. Groups (or rows, for
/// one group per row) of a multiple of 32 codes only. Activations are prepared once per call: within every chunk of 32,
/// the 16 even ones then the 16 odd ones — the order in which the low and high nibbles of 16 bytes meet them.
/// </summary>
internal static unsafe class Int4GroupDot
{
    public static bool Supports(in SchemeLayout layout) =>
        (Avx512F.IsSupported || Avx2.IsSupported)
        && layout.Scheme is { Element: SchemeElement.Integer, Bits: 4, HasZeroPoints: true, ScaleType: SchemeScaleType.F32 }
        && layout.Scheme.Granularity is SchemeGranularity.Group or SchemeGranularity.Row
        && layout.GroupLength % 32 == 0 && layout.Columns % 32 == 0;

    /// <summary>xp = the chunk order of x[columnInputs[j]] (or of x itself without a permutation).</summary>
    public static void PrepareActivations(ReadOnlySpan<float> x, int[]? columnInputs, Span<float> xp)
    {
        for (int c = 0; c < xp.Length; c += 32)
        {
            for (int p = 0; p < 16; p++)
            {
                int even = c + 2 * p;
                xp[c + p] = x[columnInputs is null ? even : columnInputs[even]];
                xp[c + 16 + p] = x[columnInputs is null ? even + 1 : columnInputs[even + 1]];
            }
        }
    }

    /// <summary>Σg scale[g] · Σ (code − zero[g]) · x over one row.</summary>
    public static float DotRow(in SchemeLayout layout, byte* tensor, int row, float* xp)
    {
        byte* codes = tensor + (long)row * layout.RowCodeBytes;
        long first = layout.ScaleIndex(row, 0);
        float* scales = (float*)(tensor + layout.ScalesOffset) + first;
        byte* zeros = tensor + layout.ZeroPointsOffset + first;
        return Avx512F.IsSupported
            ? DotRow512(codes, scales, zeros, xp, layout.GroupsPerRow, layout.GroupLength)
            : DotRow256(codes, scales, zeros, xp, layout.GroupsPerRow, layout.GroupLength);
    }

    private static float DotRow512(byte* codes, float* scales, byte* zeros, float* xp, int groups, int groupLength)
    {
        Vector512<float> iota = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        Vector512<int> mask = Vector512.Create(0x0F);
        Vector512<float> total = Vector512<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            Vector512<float> table = iota - Vector512.Create((float)zeros[g]);
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            byte* c = codes + g * groupLength / 2;
            float* x = xp + g * groupLength;
            for (int i = 0; i < groupLength; i += 32)
            {
                Vector512<int> v = Avx512F.ConvertToVector512Int32(Vector128.Load(c + i / 2));
                a0 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(table, v & mask), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar16x32(table, Vector512.ShiftRightLogical(v, 4)), Vector512.Load(x + i + 16), a1);
            }

            total = Vector512.FusedMultiplyAdd(a0 + a1, Vector512.Create(scales[g]), total);
        }

        return Vector512.Sum(total);
    }

    /// <summary>AVX2 has no 16-lane permute (two 8-lane ones and a blend cost more): code − zero in int32, converted.</summary>
    private static float DotRow256(byte* codes, float* scales, byte* zeros, float* xp, int groups, int groupLength)
    {
        Vector256<int> mask = Vector256.Create(0x0F);
        Vector256<float> total = Vector256<float>.Zero;
        for (int g = 0; g < groups; g++)
        {
            Vector256<int> zero = Vector256.Create((int)zeros[g]);
            Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
            byte* c = codes + g * groupLength / 2;
            float* x = xp + g * groupLength;
            for (int i = 0; i < groupLength; i += 32)
            {
                Vector256<int> v = Avx2.ConvertToVector256Int32(c + i / 2);
                Vector256<int> w = Avx2.ConvertToVector256Int32(c + i / 2 + 8);
                a0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle((v & mask) - zero), Vector256.Load(x + i), a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(v, 4) - zero), Vector256.Load(x + i + 16), a1);
                a0 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle((w & mask) - zero), Vector256.Load(x + i + 8), a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.ConvertToSingle(Vector256.ShiftRightLogical(w, 4) - zero), Vector256.Load(x + i + 24), a1);
            }

            total = Vector256.MultiplyAddEstimate(a0 + a1, Vector256.Create(scales[g]), total);
        }

        return Vector256.Sum(total);
    }
}
