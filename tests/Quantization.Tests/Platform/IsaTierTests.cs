using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Quantization.Formats;
using Quantization.Kernels.Dot;
using Quantization.Oracle;

namespace Quantization.Tests.Platform;

/// <summary>
/// Proves which instruction-set tier a test run really exercised. eng/test-matrix.sh runs the suite once per tier
/// (DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0, DOTNET_EnableHWIntrinsic=0, qemu with and without the dot-product
/// extension) and sets <c>QUANT_EXPECTED_TIER</c>; a run whose switches silently did nothing fails here instead of
/// passing on the wrong code path. Without the variable only the consistency of the reported flags is asserted.
/// </summary>
public sealed class IsaTierTests
{
    public const string ExpectedTierVariable = "QUANT_EXPECTED_TIER";

    private static readonly string[] s_tiers = ["avx512", "avx2", "sse", "scalar", "neon-dp", "neon"];

    private static string? ExpectedTier => Environment.GetEnvironmentVariable(ExpectedTierVariable) is { Length: > 0 } t ? t : null;

    /// <summary>The tier this process runs on, named as in <c>QUANT_EXPECTED_TIER</c>.</summary>
    public static string DetectedTier()
    {
        Architecture arch = RuntimeInformation.ProcessArchitecture;
        if (!Vector128.IsHardwareAccelerated)
        {
            return "scalar";
        }

        if (arch == Architecture.Arm64)
        {
            return Dp.IsSupported ? "neon-dp" : "neon";
        }

        return Vector512.IsHardwareAccelerated ? "avx512" : Vector256.IsHardwareAccelerated ? "avx2" : "sse";
    }

    private static string Flags() =>
        $"arch={RuntimeInformation.ProcessArchitecture} V512={Vector512.IsHardwareAccelerated} V256={Vector256.IsHardwareAccelerated} " +
        $"V128={Vector128.IsHardwareAccelerated} Avx512F={Avx512F.IsSupported} Avx2={Avx2.IsSupported} Avx={Avx.IsSupported} " +
        $"Sse2={Sse2.IsSupported} AdvSimd={AdvSimd.IsSupported} Dp={Dp.IsSupported}";

    [Fact]
    public void HardwareFlagsAreConsistent()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"tier={DetectedTier()} {Flags()}");
        string flags = Flags();
        Architecture arch = RuntimeInformation.ProcessArchitecture;

        // Wider vectors are only accelerated when the narrower ones are.
        Assert.True(!Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated, flags);
        Assert.True(!Vector256.IsHardwareAccelerated || Vector128.IsHardwareAccelerated, flags);

        // x86 ISA classes imply their predecessors and back the vector widths.
        Assert.True(!Avx512F.IsSupported || Avx2.IsSupported, flags);
        Assert.True(!Avx2.IsSupported || Avx.IsSupported, flags);
        Assert.True(!Avx.IsSupported || Sse2.IsSupported, flags);
        Assert.True(!Vector512.IsHardwareAccelerated || Avx512F.IsSupported, flags);
        Assert.True(!Vector256.IsHardwareAccelerated || Avx2.IsSupported, flags);
        Assert.True(!Dp.IsSupported || AdvSimd.IsSupported, flags);

        if (arch == Architecture.Arm64)
        {
            // arm64 has 128-bit NEON only: Vector256/512 are never accelerated there, and no x86 class is supported.
            Assert.False(Vector256.IsHardwareAccelerated, flags);
            Assert.False(Vector512.IsHardwareAccelerated, flags);
            Assert.False(Sse2.IsSupported, flags);
            Assert.Equal(Vector128.IsHardwareAccelerated, AdvSimd.IsSupported);
        }
        else if (arch == Architecture.X64)
        {
            Assert.False(AdvSimd.IsSupported, flags);
            Assert.Equal(Vector128.IsHardwareAccelerated, Sse2.IsSupported);
        }
    }

    [Fact]
    public void RunsOnTheExpectedTier()
    {
        string flags = Flags();
        string detected = DetectedTier();
        TestContext.Current.TestOutputHelper?.WriteLine($"expected={ExpectedTier ?? "(unset)"} detected={detected} {flags}");
        if (ExpectedTier is not { } expected)
        {
            return; // HardwareFlagsAreConsistent covers the unset case.
        }

        Assert.Contains(expected, s_tiers);
        Architecture arch = RuntimeInformation.ProcessArchitecture;
        switch (expected)
        {
            case "avx512":
                Assert.Equal(Architecture.X64, arch);
                Assert.True(Vector512.IsHardwareAccelerated, flags);
                Assert.True(Avx512F.IsSupported, flags);
                Assert.True(Vector256.IsHardwareAccelerated, flags);
                Assert.True(Avx2.IsSupported, flags);
                break;
            case "avx2":
                Assert.Equal(Architecture.X64, arch);
                Assert.False(Vector512.IsHardwareAccelerated, flags);
                Assert.False(Avx512F.IsSupported, flags);
                Assert.True(Vector256.IsHardwareAccelerated, flags);
                Assert.True(Avx2.IsSupported, flags);
                break;
            case "sse":
                Assert.Equal(Architecture.X64, arch);
                Assert.False(Vector512.IsHardwareAccelerated, flags);
                Assert.False(Vector256.IsHardwareAccelerated, flags);
                Assert.False(Avx512F.IsSupported, flags);
                Assert.False(Avx2.IsSupported, flags);
                Assert.True(Vector128.IsHardwareAccelerated, flags);
                Assert.True(Sse2.IsSupported, flags);
                break;
            case "scalar":
                Assert.False(Vector512.IsHardwareAccelerated, flags);
                Assert.False(Vector256.IsHardwareAccelerated, flags);
                Assert.False(Vector128.IsHardwareAccelerated, flags);
                Assert.False(Sse2.IsSupported, flags);
                Assert.False(Avx2.IsSupported, flags);
                Assert.False(AdvSimd.IsSupported, flags);
                break;
            case "neon-dp":
                Assert.Equal(Architecture.Arm64, arch);
                Assert.True(AdvSimd.IsSupported, flags);
                Assert.True(AdvSimd.Arm64.IsSupported, flags);
                Assert.True(Dp.IsSupported, flags);
                Assert.True(Vector128.IsHardwareAccelerated, flags);
                Assert.False(Vector256.IsHardwareAccelerated, flags);
                break;
            case "neon":
                Assert.Equal(Architecture.Arm64, arch);
                Assert.True(AdvSimd.IsSupported, flags);
                Assert.True(AdvSimd.Arm64.IsSupported, flags);
                Assert.False(Dp.IsSupported, flags);
                Assert.True(Vector128.IsHardwareAccelerated, flags);
                Assert.False(Vector256.IsHardwareAccelerated, flags);
                break;
        }

        Assert.Equal(expected, detected);
    }

    /// <summary>
    /// Every registered dot kernel runs the vector path of the tier (<c>QUANT_EXPECTED_TIER</c>, else the detected one):
    /// the first of the tier's paths its family implements. avx512: AVX-VNNI (where the CPU has it) or AVX-512; avx2:
    /// AVX-VNNI (where the CPU has it) or AVX2; sse: SSSE3; neon-dp: SDOT or NEON; neon: NEON; scalar: scalar. A family
    /// without any of its tier's paths fails: no tier may fall back to the scalar reference.
    /// </summary>
    [Fact]
    public void EveryDotKernelRunsTheTiersPath()
    {
        string tier = ExpectedTier ?? DetectedTier();
        DotPath[] tierPaths = tier switch
        {
            "avx512" => AvxVnni.IsSupported ? [DotPath.AvxVnni, DotPath.Avx512] : [DotPath.Avx512],
            "avx2" => AvxVnni.IsSupported ? [DotPath.AvxVnni, DotPath.Avx2] : [DotPath.Avx2],
            "sse" => [DotPath.Ssse3],
            "neon-dp" => [DotPath.AdvSimdDp, DotPath.AdvSimd],
            "neon" => [DotPath.AdvSimd],
            _ => [DotPath.Scalar],
        };

        int families = 0;
        foreach (DotEntry entry in DotRegistry.All)
        {
            (DotPath chosen, IReadOnlyList<DotPath> implemented) = (entry.BestPath, entry.Paths);
            DotPath[] candidates = [.. tierPaths.Where(p => p == DotPath.Scalar || implemented.Contains(p))];
            Assert.True(candidates.Length > 0, $"{entry.WeightType} implements none of the {tier} tier's paths ({string.Join(", ", tierPaths)})");
            Assert.True(chosen == candidates[0], $"{entry.WeightType} on {tier}: chose {chosen}, expected {candidates[0]}");
            TestContext.Current.TestOutputHelper?.WriteLine($"{entry.WeightType}: {chosen}");
            families++;
        }

        Assert.True(families >= 17, $"only {families} dot kernels registered");
    }

    [Fact]
    public void GgmlOracleLoads()
    {
        Architecture arch = RuntimeInformation.ProcessArchitecture;
        bool available = GgmlNative.IsAvailable;
        TestContext.Current.TestOutputHelper?.WriteLine($"ggml variant={GgmlNative.Variant ?? "(none)"} available={available} error={GgmlNative.LoadError ?? "-"}");
        if (arch is not (Architecture.X64 or Architecture.Arm64))
        {
            return; // No ggml build is shipped beside the tests for other architectures.
        }

        Assert.True(available, $"ggml variant '{GgmlNative.Variant}' did not load: {GgmlNative.LoadError}");
        if (arch == Architecture.Arm64)
        {
            Assert.Equal("arm64", GgmlNative.Variant);
        }
        else
        {
            // The variant follows the ISA classes the runtime reports, so each x64 tier exercises its own ggml build too.
            string expected = Avx512F.IsSupported ? "avx512" : Avx2.IsSupported ? "avx2" : Avx.IsSupported ? "avx" : "noavx";
            Assert.Equal(expected, GgmlNative.Variant);
            if (ExpectedTier is "avx512" or "avx2")
            {
                Assert.Equal(ExpectedTier, GgmlNative.Variant);
            }
            else if (ExpectedTier == "scalar")
            {
                Assert.Equal("noavx", GgmlNative.Variant);
            }
        }
    }
}
