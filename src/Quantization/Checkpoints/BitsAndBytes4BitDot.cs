using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Checkpoints;

/// <summary>
/// The vector row products of <see cref="BitsAndBytes4BitMatrix"/> (AVX-512 and AVX2): 16 codes per byte load looked up
/// in the 16-value code book by a lane permute. Rows of a multiple of 32 columns only, so that every chunk of 32 codes
/// lies in one absmax block (blocks are powers of two from 32). The activations are prepared once per call: within
/// every chunk of 32, the 16 even ones, then the 16 odd ones — the order in which the high and the low nibbles of 16
/// bytes meet them.
/// </summary>
internal static unsafe class BitsAndBytes4BitDot
{
    public static bool Supports(int columns) => columns % 32 == 0 && (Avx512F.IsSupported || Avx2.IsSupported);

    public static void PrepareActivations(ReadOnlySpan<float> x, Span<float> xp)
    {
        for (int c = 0; c < x.Length; c += 32)
        {
            for (int p = 0; p < 16; p++)
            {
                xp[c + p] = x[c + 2 * p];
                xp[c + 16 + p] = x[c + 2 * p + 1];
            }
        }
    }

    /// <summary>Σ codebook[code] · absmax · x over one row whose codes start at <paramref name="codes"/> (element <paramref name="flat"/> of the tensor).</summary>
    public static float DotRow(byte* codes, float* xp, float* absmax, float* codebook, long flat, int columns, int blockShift) =>
        Avx512F.IsSupported ? DotRow512(codes, xp, absmax, codebook, flat, columns, blockShift) : DotRow256(codes, xp, absmax, codebook, flat, columns, blockShift);

    private static float DotRow512(byte* codes, float* xp, float* absmax, float* codebook, long flat, int columns, int blockShift)
    {
        Vector512<float> table = Vector512.Load(codebook);
        Vector512<int> mask = Vector512.Create(0x0F);
        Vector512<float> total = Vector512<float>.Zero;
        for (int c = 0; c < columns; c += 32)
        {
            Vector512<int> v = Avx512F.ConvertToVector512Int32(Vector128.Load(codes + c / 2));
            Vector512<float> high = Avx512F.PermuteVar16x32(table, Vector512.ShiftRightLogical(v, 4));
            Vector512<float> low = Avx512F.PermuteVar16x32(table, v & mask);
            Vector512<float> sum = high * Vector512.Load(xp + c);
            sum = Vector512.FusedMultiplyAdd(low, Vector512.Load(xp + c + 16), sum);
            total = Vector512.FusedMultiplyAdd(sum, Vector512.Create(absmax[(flat + c) >> blockShift]), total);
        }

        return Vector512.Sum(total);
    }

    private static float DotRow256(byte* codes, float* xp, float* absmax, float* codebook, long flat, int columns, int blockShift)
    {
        Vector256<float> first = Vector256.Load(codebook);
        Vector256<float> second = Vector256.Load(codebook + 8);
        Vector256<int> mask = Vector256.Create(0x0F);
        Vector256<float> total = Vector256<float>.Zero;
        for (int c = 0; c < columns; c += 32)
        {
            Vector256<float> sum = Vector256<float>.Zero;
            for (int half = 0; half < 16; half += 8)
            {
                Vector256<int> v = Avx2.ConvertToVector256Int32(codes + c / 2 + half);
                sum = Vector256.MultiplyAddEstimate(Lookup(first, second, Vector256.ShiftRightLogical(v, 4)), Vector256.Load(xp + c + half), sum);
                sum = Vector256.MultiplyAddEstimate(Lookup(first, second, v & mask), Vector256.Load(xp + c + 16 + half), sum);
            }

            total = Vector256.MultiplyAddEstimate(sum, Vector256.Create(absmax[(flat + c) >> blockShift]), total);
        }

        return Vector256.Sum(total);
    }

    /// <summary>codebook[index] for indexes 0 … 15: the two 8-value halves permuted, bit 3 (moved to the sign) choosing between them.</summary>
    private static Vector256<float> Lookup(Vector256<float> first, Vector256<float> second, Vector256<int> index) =>
        Avx.BlendVariable(Avx2.PermuteVar8x32(first, index), Avx2.PermuteVar8x32(second, index), Vector256.ShiftLeft(index, 28).AsSingle());

    public static int BlockShift(int blockSize) => BitOperations.Log2((uint)blockSize);
}
