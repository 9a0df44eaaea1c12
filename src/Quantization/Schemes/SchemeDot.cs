using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CommunityToolkit.HighPerformance.Buffers;
using CommunityToolkit.HighPerformance.Helpers;

namespace Quantization.Schemes;

/// <summary>The vector width of the scheme products; <see cref="SchemeDot.Best"/> is chosen once per process.</summary>
internal enum SchemeDotWidth
{
    Scalar,
    V128,
    V256,
    V512,
}

/// <summary>
/// Products with scheme weights (docs/formats.md#scheme-products): activations stay in float; each group contributes
/// scale · Σ (code − zero) · x (integers) or scale · Σ FP8(code) · x, the code differences exact in int32, the sums in float.
/// For 4- and 2-bit codes the activations are permuted once per call so that each vector of low (or high) nibbles meets
/// its own activations without a byte shuffle.
/// </summary>
internal static unsafe partial class SchemeDot
{
    /// <summary>The widest vector width the process accelerates.</summary>
    public static SchemeDotWidth Best { get; } =
        Vector512.IsHardwareAccelerated ? SchemeDotWidth.V512
        : Vector256.IsHardwareAccelerated ? SchemeDotWidth.V256
        : Vector128.IsHardwareAccelerated ? SchemeDotWidth.V128
        : SchemeDotWidth.Scalar;

    /// <summary>
    /// The widest accelerated width whose chunk (codes per vector load) fits in the scheme's groups, so that 2- and 4-bit
    /// groups narrower than a 512-bit chunk still run vector code.
    /// </summary>
    public static SchemeDotWidth BestFor(in SchemeLayout layout)
    {
        SchemeDotWidth width = Best;
        QuantScheme scheme = layout.Scheme;
        int perByte = scheme.Element == SchemeElement.Integer && scheme.Bits is 2 or 4 ? 8 / scheme.Bits : 1;
        while (width > SchemeDotWidth.V128 && perByte * Lanes(width) > layout.GroupLength)
        {
            width--;
        }

        return width;
    }

    /// <summary>Whether <paramref name="width"/> can run in this process.</summary>
    public static bool IsSupported(SchemeDotWidth width) => width switch
    {
        SchemeDotWidth.V512 => Vector512.IsHardwareAccelerated,
        SchemeDotWidth.V256 => Vector256.IsHardwareAccelerated,
        SchemeDotWidth.V128 => Vector128.IsHardwareAccelerated,
        _ => true,
    };

    private static int Lanes(SchemeDotWidth width) => width switch
    {
        SchemeDotWidth.V512 => 16,
        SchemeDotWidth.V256 => 8,
        SchemeDotWidth.V128 => 4,
        _ => 1,
    };

    /// <summary>
    /// Writes the activations a product reads: <paramref name="x"/> itself, except for 4- and 2-bit integer codes on a
    /// vector width, where inside every group each full chunk of (codes per byte) · lanes values is reordered so that
    /// position p · lanes + j holds x[j · (codes per byte) + p] — the order in which the kernel's lanes see the codes.
    /// </summary>
    public static void PrepareActivations(in SchemeLayout layout, SchemeDotWidth width, ReadOnlySpan<float> x, Span<float> xp)
    {
        x.CopyTo(xp);
        QuantScheme scheme = layout.Scheme;
        if (width == SchemeDotWidth.Scalar || scheme.Element != SchemeElement.Integer || scheme.Bits is not (2 or 4))
        {
            return;
        }

        int perByte = 8 / scheme.Bits;
        int lanes = Lanes(width);
        int chunk = perByte * lanes;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            int start = g * layout.GroupLength;
            int length = Math.Min(layout.GroupLength, layout.Columns - start);
            for (int c = start; c + chunk <= start + length; c += chunk)
            {
                for (int p = 0; p < perByte; p++)
                {
                    for (int j = 0; j < lanes; j++)
                    {
                        xp[c + p * lanes + j] = x[c + j * perByte + p];
                    }
                }
            }
        }
    }

    /// <summary>Per-thread scratch of the row products: a row's scales and zero points, and a group's unpacked codes.</summary>
    public readonly ref struct RowScratch(Span<float> scales, Span<int> zeros, Span<byte> codes)
    {
        public Span<float> Scales { get; } = scales;

        public Span<int> Zeros { get; } = zeros;

        public Span<byte> Codes { get; } = codes;
    }

    /// <summary>The scales (as floats) and zero points (2^(bits−1) for symmetric integers, 0 for FP8) of a row's groups.</summary>
    private static void ReadRowScales(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, Span<float> scales, Span<int> zeros)
    {
        QuantScheme scheme = layout.Scheme;
        long first = layout.ScaleIndex(row, 0); // a row's scales are consecutive in every granularity
        ReadOnlySpan<byte> scaleBytes = tensor[(int)layout.ScalesOffset..];
        int fixedZero = scheme.Element == SchemeElement.Integer ? SchemeReference.SymmetricZero(scheme.Bits) : 0;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            scales[g] = SchemeScales.Read(scheme.ScaleType, scaleBytes, first + g);
            zeros[g] = scheme.HasZeroPoints ? tensor[(int)(layout.ZeroPointsOffset + first + g)] : fixedZero;
        }
    }

    /// <summary>Σ W[row, c] · x[c] with activations prepared for <paramref name="width"/>.</summary>
    public static float DotRow(in SchemeLayout layout, SchemeDotWidth width, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> xp, in RowScratch scratch) =>
        width switch
        {
            SchemeDotWidth.V512 => DotRow512(layout, tensor, row, xp, scratch),
            SchemeDotWidth.V256 => DotRow256(layout, tensor, row, xp, scratch),
            SchemeDotWidth.V128 => DotRow128(layout, tensor, row, xp, scratch),
            _ => DotRowScalar(layout, tensor, row, xp),
        };

    /// <summary>The scalar product: code by code, each group's sum scaled once.</summary>
    private static float DotRowScalar(in SchemeLayout layout, ReadOnlySpan<byte> tensor, int row, ReadOnlySpan<float> x)
    {
        QuantScheme scheme = layout.Scheme;
        ReadOnlySpan<byte> rowCodes = tensor.Slice(row * layout.RowCodeBytes, layout.RowCodeBytes);
        ReadOnlySpan<byte> scaleBytes = tensor[(int)layout.ScalesOffset..];
        float total = 0;
        for (int g = 0; g < layout.GroupsPerRow; g++)
        {
            int start = g * layout.GroupLength;
            int length = Math.Min(layout.GroupLength, layout.Columns - start);
            long s = layout.ScaleIndex(row, g);
            float scale = SchemeScales.Read(scheme.ScaleType, scaleBytes, s);
            int zero = SchemeReference.ZeroPoint(layout, tensor, s);
            float sum = 0;
            for (int i = start; i < start + length; i++)
            {
                float w = scheme.Element switch
                {
                    SchemeElement.Fp8E4M3 => Fp8Reference.Decode<E4M3Encoding>(rowCodes[i]),
                    SchemeElement.Fp8E5M2 => Fp8Reference.Decode<E5M2Encoding>(rowCodes[i]),
                    _ => SchemeCodes.Get(scheme.Bits, rowCodes, i) - zero,
                };
                sum += w * x[i];
            }

            total += sum * scale;
        }

        return total;
    }

    /// <summary>Σ (code − zero) · x (or Σ FP8(code) · x) over codes <paramref name="first"/> … of a row, one by one: the vector loops' remainder.</summary>
    private static float TailSum(QuantScheme scheme, ReadOnlySpan<byte> rowCodes, int first, int count, int zero, ReadOnlySpan<float> x)
    {
        float sum = 0;
        for (int i = 0; i < count; i++)
        {
            float w = scheme.Element switch
            {
                SchemeElement.Fp8E4M3 => Fp8Reference.Decode<E4M3Encoding>(rowCodes[first + i]),
                SchemeElement.Fp8E5M2 => Fp8Reference.Decode<E5M2Encoding>(rowCodes[first + i]),
                _ => SchemeCodes.Get(scheme.Bits, rowCodes, first + i) - zero,
            };
            sum += w * x[i];
        }

        return sum;
    }

    /// <summary>
    /// y[b·rows + r] = Σc W[r, c]·x[b·columns + c]: activations prepared into <paramref name="prepared"/> (batch · columns
    /// floats), rows split into <paramref name="parts"/> contiguous ranges across threads.
    /// </summary>
    public static void Run(in SchemeLayout layout, SchemeDotWidth width, ReadOnlySpan<byte> weights, ReadOnlySpan<float> x, Span<float> y,
                           int batch, int parts, Span<float> prepared)
    {
        int columns = layout.Columns;
        for (int b = 0; b < batch; b++)
        {
            PrepareActivations(layout, width, x.Slice(b * columns, columns), prepared.Slice(b * columns, columns));
        }

        fixed (byte* w = weights)
        fixed (float* xp = prepared)
        fixed (float* yp = y)
        {
            var work = new Rows(layout, width, w, weights.Length, xp, yp, batch, parts);
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

    /// <summary>The number of row ranges: at most one per thread and at least 16 rows each.</summary>
    public static int Parts(int rows, int maxDegreeOfParallelism)
    {
        int threads = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        return Math.Max(1, Math.Min(threads, rows / 16));
    }

    private readonly struct Rows(SchemeLayout layout, SchemeDotWidth width, byte* weights, int weightBytes, float* prepared, float* y,
                                 int batch, int parts) : IAction
    {
        public void Invoke(int part)
        {
            int first = (int)((long)layout.Rows * part / parts);
            int end = (int)((long)layout.Rows * (part + 1) / parts);
            var tensor = new ReadOnlySpan<byte>(weights, weightBytes);
            var xp = new ReadOnlySpan<float>(prepared, batch * layout.Columns);
            using SpanOwner<byte> codes = SpanOwner<byte>.Allocate(layout.GroupLength);
            using SpanOwner<float> scales = SpanOwner<float>.Allocate(layout.GroupsPerRow);
            using SpanOwner<int> zeros = SpanOwner<int>.Allocate(layout.GroupsPerRow);
            var scratch = new RowScratch(scales.Span, zeros.Span, codes.Span);
            for (int r = first; r < end; r++)
            {
                for (int b = 0; b < batch; b++)
                {
                    y[(long)b * layout.Rows + r] = DotRow(layout, width, tensor, r, xp.Slice(b * layout.Columns, layout.Columns), scratch);
                }
            }
        }
    }
}
