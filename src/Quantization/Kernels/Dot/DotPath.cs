using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Quantization.Kernels.Dot;

/// <summary>
/// The instruction-set paths of the integer dot kernels, shared by every dot family (Block32: the legacy formats and
/// IQ4_NL; the K-quants and IQ4_XS; TQ1_0; TQ2_0; NF4/FP4; I2_S). Each path's integer sums equal the family's scalar
/// reference exactly; only the order of the float additions may differ.
/// </summary>
internal enum DotPath
{
    /// <summary>Scalar, in ggml's generic order.</summary>
    Scalar,

    /// <summary>AVX-512BW (chosen only where the runtime accelerates <see cref="Vector512"/>).</summary>
    Avx512,

    /// <summary>AVX-VNNI: <c>vpdpbusd</c> on 256 bits (.NET has no 512-bit VNNI class).</summary>
    AvxVnni,

    /// <summary>AVX2 (<c>vpmaddubsw</c>, <c>vpmaddwd</c>); a family may use AVX-VNNI inside it where the CPU has it.</summary>
    Avx2,

    /// <summary>The Vector128 tier on x86: SSSE3 and SSE4.1 (the AVX2 sequences on 128-bit halves).</summary>
    Ssse3,

    /// <summary>arm64 with the dot-product extension: <c>SDOT</c>.</summary>
    AdvSimdDp,

    /// <summary>arm64 NEON (a family without a separate <see cref="AdvSimdDp"/> path may use <c>SDOT</c> inside it where the CPU has it).</summary>
    AdvSimd,
}

/// <summary>
/// The one choice of a dot path: a family declares the paths it implements (<see cref="DotPath.Scalar"/> always), and
/// <see cref="Best"/> takes the first path of <see cref="Order"/> that the family implements and this process runs.
/// </summary>
internal static class DotPaths
{
    /// <summary>
    /// The preference order of every dot family: AVX-VNNI, AVX-512BW, AVX2, SSSE3/SSE4.1, NEON with SDOT, NEON, scalar.
    /// </summary>
    /// <remarks>
    /// AVX-VNNI before AVX-512 keeps the choice the Block32 family (the one with both kernels) made when its VNNI path
    /// was written: one <c>vpdpbusd</c> per block and row against widening, <c>vpmaddwd</c> and a 512→256 fold. It
    /// could not be re-measured on the development machine of this order (AMD EPYC, family 25 model 17, Zen 4 "Genoa",
    /// 2 vCPUs): it has AVX-512 (with AVX512-VNNI, which .NET does not expose) but not AVX-VNNI, so
    /// <c>AvxVnni.IsSupported</c> is false there; the order only matters where a CPU has both (Sapphire Rapids and
    /// later, Zen 5). For reference, AVX-512 against AVX2 on that Zen 4, through the kernels' own row loops (best of 15
    /// alternating rounds, 4096 × 4096 weights, one thread; speed of AVX-512 relative to AVX2): Q4_0 1.78×, Q8_0
    /// 0.95–0.96×, IQ4_NL 0.84–0.92×, TQ2_0 (four-row kernel) 0.87–1.02× (noisy). TQ2_0 has a VNNI row kernel but
    /// declares no <see cref="DotPath.AvxVnni"/> path, so that it keeps AVX-512 wherever both exist, as it did before
    /// this order was shared; it then runs AVX2 on CPUs with AVX-VNNI but no AVX-512 (the same integer sums and float
    /// order, so the same result). The K-quants, TQ1_0, NF4/FP4 and I2_S have no VNNI path (the K-quants' AVX2 path
    /// uses <c>vpdpwssd</c> where the CPU has AVX-VNNI).
    /// </remarks>
    public static ReadOnlySpan<DotPath> Order =>
        [DotPath.AvxVnni, DotPath.Avx512, DotPath.Avx2, DotPath.Ssse3, DotPath.AdvSimdDp, DotPath.AdvSimd, DotPath.Scalar];

    /// <summary>Whether this process has the instructions of <paramref name="path"/>.</summary>
    public static bool CanRun(DotPath path) => path switch
    {
        DotPath.Scalar => true,
        DotPath.Avx512 => Avx512BW.IsSupported,
        DotPath.AvxVnni => AvxVnni.IsSupported,
        DotPath.Avx2 => Avx2.IsSupported,
        DotPath.Ssse3 => Ssse3.IsSupported && Sse41.IsSupported,
        DotPath.AdvSimdDp => Dp.IsSupported,
        DotPath.AdvSimd => AdvSimd.Arm64.IsSupported,
        _ => false,
    };

    /// <summary>Whether a family that implements <paramref name="implemented"/> can run <paramref name="path"/> here.</summary>
    public static bool IsSupported(ReadOnlySpan<DotPath> implemented, DotPath path) =>
        path == DotPath.Scalar || (implemented.Contains(path) && CanRun(path));

    /// <summary>
    /// The first path of <see cref="Order"/> in <paramref name="implemented"/> that this process runs (AVX-512 only where
    /// the runtime accelerates <see cref="Vector512"/>, e.g. not with <c>DOTNET_PreferredVectorBitWidth=256</c>), else
    /// <see cref="DotPath.Scalar"/>.
    /// </summary>
    public static DotPath Best(ReadOnlySpan<DotPath> implemented)
    {
        foreach (DotPath path in Order)
        {
            if (IsSupported(implemented, path) && (path != DotPath.Avx512 || Vector512.IsHardwareAccelerated))
            {
                return path;
            }
        }

        return DotPath.Scalar;
    }
}
