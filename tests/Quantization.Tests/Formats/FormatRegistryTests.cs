using System.Text.RegularExpressions;
using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Conformance;
using Quantization.Tests.Support;

namespace Quantization.Tests.Formats;

/// <summary>
/// The three-touch rule (docs/adding-a-format.md): a format is its folder, one line in <see cref="FormatRegistry"/> and
/// its <see cref="QuantType"/> member. Everything else is derived from the registry, so these tests fail when a
/// registered format lacks something a hand-written list used to carry: golden data, a llama.cpp file type, dot
/// coverage, or a true importance rule; and when a hand-written type list creeps back into the CLI or the benchmarks.
/// </summary>
public sealed partial class FormatRegistryTests
{
    [Fact]
    public void EveryQuantTypeHasExactlyOneDescriptor()
    {
        QuantType[] members = Enum.GetValues<QuantType>();
        Assert.Equal(members.Length, FormatRegistry.All.Count);
        foreach (QuantType type in members)
        {
            FormatDescriptor d = Assert.Single(FormatRegistry.All, d => d.Type == type);
            QuantFormat f = QuantFormat.Get(type);
            Assert.Equal((d.Name, d.BlockSize, d.BytesPerBlock, d.TrailerBytes), (f.Name, f.BlockSize, f.BytesPerBlock, f.TrailerBytes));
        }
    }

    [Fact]
    public void KernelAndDotRegistriesAreTheDescriptorsKernels()
    {
        Assert.Equal(FormatRegistry.All.Where(d => d.Kernels is not null).Select(d => d.Type), KernelRegistry.All.Select(e => e.Type));
        Assert.Equal(FormatRegistry.All.Where(d => d.Dot is not null).Select(d => d.Type), DotRegistry.All.Select(e => e.WeightType));
        foreach (FormatDescriptor d in FormatRegistry.All.Where(d => d.Kernels is not null))
        {
            // Each factory makes the entry of its own type (a copied descriptor file that kept another type's kernel fails here).
            Assert.Equal(d.Type, d.Kernels!().Type);
            if (d.Dot is not null)
            {
                Assert.Equal(d.Type, d.Dot().WeightType);
            }
        }
    }

    [Fact]
    public void EveryConvertibleGgmlWeightTypeHasItsLlamaFileType()
    {
        var seen = new HashSet<int>();
        foreach (FormatDescriptor d in FormatRegistry.All)
        {
            bool convertible = d.IsGgmlType && d.Kernels is not null && d.Role == FormatRole.Weight;
            if (convertible)
            {
                // Either llama.cpp's file type of a model all of this type, or (where llama.cpp has none, as for MXFP4)
                // the mix preset whose default type it is: exactly one of the two, and no number claimed twice.
                Assert.True(d.LlamaFileType is null != d.LlamaMixFileType is null,
                            $"{d.Type} can be a GGUF weight type: it needs its llama.cpp file type, or the mix preset it is the default type of, not both.");
                int fileType = (d.LlamaFileType ?? d.LlamaMixFileType)!.Value;
                Assert.True(seen.Add(fileType), $"{d.Type} repeats llama.cpp file type {fileType}.");
            }
            else
            {
                Assert.True(d.LlamaFileType is null && d.LlamaMixFileType is null, $"{d.Type} is not a convert target but declares a file type.");
            }
        }

        // A mix preset is not written for a model converted to its default type alone.
        Assert.Equal((uint)Cli.Gguf.ModelConverter.LlamaFileTypeGuessed, Cli.Gguf.ModelConverter.FileType(QuantType.MXFP4));
        Assert.Equal(39u, Cli.Gguf.ModelConverter.FileType(QuantType.NVFP4));

        Assert.Equal(7u, Cli.Gguf.ModelConverter.FileType(QuantType.Q8_0));
        Assert.Equal((uint)Cli.Gguf.ModelConverter.LlamaFileTypeGuessed, Cli.Gguf.ModelConverter.FileType(QuantType.Q8_K));
    }

    [Fact]
    public void EveryQuantizableGgmlTypeHasGoldenData()
    {
        Assert.Equal(
            FormatRegistry.All.Where(d => d.IsGgmlType && d.Kernels is not null && d.Type != QuantType.F32).Select(d => d.Type),
            ConformanceCase.Types);
        foreach (QuantType type in ConformanceCase.Types)
        {
            string file = Path.Combine(GoldenHashes.Folder, $"{type}.tsv");
            Assert.True(File.Exists(file), $"{type} is registered but has no golden data ({file}).");
            int cases = ConformanceCase.All().Count(c => c.Type == type);
            int lines = File.ReadLines(file).Count(l => l.Length > 0 && !l.StartsWith('#'));
            Assert.True(lines >= cases, $"{file} has {lines} lines for {cases} conformance cases.");
        }
    }

    /// <summary>The importance rule is a claim about ggml's quantizer: checked against it on x64, against ours everywhere.</summary>
    [Fact]
    public void ImportanceRulesHold()
    {
        const int rowLength = 512;
        float[] x = TestData.TransformerLike(5, 2 * rowLength);
        float[] importance = TestData.Importance(6, rowLength, withZeros: false);
        foreach (FormatDescriptor d in FormatRegistry.All.Where(d => d.Kernels is not null && d.TrailerBytes == 0 && rowLength % d.BlockSize == 0))
        {
            byte[] without = new byte[Quantizer.GetByteCount(d.Type, x.Length)];
            byte[] with = new byte[without.Length];
            if (d.Importance == ImportanceUse.Required)
            {
                // ggml aborts the process without importance for these types; ours refuses with the parameter's name.
                var e = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(d.Type, x, without, rowLength));
                Assert.Equal("importance", e.ParamName);
                continue;
            }

            Quantizer.Quantize(d.Type, x, without, rowLength);
            Quantizer.Quantize(d.Type, x, with, rowLength, importance);
            // ggml quantizes activation formats only row by row, without importance (no ggml_quantize_chunk case).
            bool ggmlChanges = d.IsGgmlType && d.Role == FormatRole.Weight && GgmlNative.IsByteReference
                ? !GgmlNative.QuantizeChunk((int)d.Type, x, rowLength, importance).AsSpan().SequenceEqual(GgmlNative.QuantizeChunk((int)d.Type, x, rowLength))
                : d.Role == FormatRole.Weight && d.Importance != ImportanceUse.Ignored;
            bool oursChanges = !with.AsSpan().SequenceEqual(without);
            Assert.True(ggmlChanges == (d.Importance != ImportanceUse.Ignored), $"{d.Type}: ggml's bytes {(ggmlChanges ? "change" : "do not change")} with importance, the descriptor says {d.Importance}.");
            Assert.True(oursChanges == ggmlChanges, $"{d.Type}: our bytes {(oursChanges ? "change" : "do not change")} with importance.");
        }
    }

    [Fact]
    public void EveryDotMultipliesARegisteredActivationFormat()
    {
        foreach (DotEntry e in DotRegistry.All)
        {
            FormatDescriptor activation = FormatRegistry.TryGet(e.ActivationType)!;
            Assert.True(activation.Kernels is not null, $"{e.WeightType}'s activation format {e.ActivationType} has no quantizer.");
            Assert.Equal(FormatRegistry.TryGet(e.WeightType)!.TrailerBytes > 0, activation.TrailerBytes > 0);
        }
    }

    /// <summary>
    /// Every dot kernel implements a path for every tier (docs/architecture.md#choosing-an-instruction-set-path): AVX-512,
    /// AVX2, SSSE3 (the Vector128 tier of x86), NEON (with or without SDOT) and the scalar reference, so no tier of any
    /// machine falls back to the reference.
    /// </summary>
    [Fact]
    public void EveryDotImplementsEveryTier()
    {
        foreach (DotEntry e in DotRegistry.All)
        {
            string paths = string.Join(", ", e.Paths);
            Assert.True(e.Paths.Contains(DotPath.Scalar), $"{e.WeightType} ({paths}) has no scalar reference path");
            Assert.True(e.Paths.Contains(DotPath.Avx512), $"{e.WeightType} ({paths}) has no AVX-512 path");
            Assert.True(e.Paths.Contains(DotPath.Avx2) || e.Paths.Contains(DotPath.AvxVnni), $"{e.WeightType} ({paths}) has no 256-bit path");
            Assert.True(e.Paths.Contains(DotPath.Ssse3), $"{e.WeightType} ({paths}) has no SSSE3 path");
            Assert.True(e.Paths.Contains(DotPath.AdvSimd) || e.Paths.Contains(DotPath.AdvSimdDp), $"{e.WeightType} ({paths}) has no NEON path");
        }
    }

    /// <summary>
    /// Every path of every registered dot kernel that this process runs, against the kernel's scalar reference on
    /// quantized transformer-like rows: the integer sums are exact, so only the float order can differ (the per-family
    /// tests check the integer sums themselves; this one keeps a newly registered kernel from going untested).
    /// </summary>
    [Fact]
    public void EveryRunnableDotPathAgreesWithTheReference()
    {
        const int n = 4096;
        float[] w = TestData.TransformerLike(21, n);
        float[] x = TestData.TransformerLike(22, n);
        int tested = 0;
        foreach (DotEntry e in DotRegistry.All)
        {
            byte[] weights = new byte[Quantizer.GetByteCount(e.WeightType, n)];
            Quantizer.Quantize(e.WeightType, w, weights, n, Dot.DotTestSupport.RequiredImportance(e.WeightType, n));
            byte[] activations = new byte[Quantizer.GetByteCount(e.ActivationType, n)];
            Quantizer.Quantize(e.ActivationType, x, activations, n);
            ReadOnlySpan<byte> blocks = weights.AsSpan(0, weights.Length - e.WeightFormat.TrailerBytes);
            ReadOnlySpan<byte> activationBlocks = activations; // an I8_S row carries its scale and code sum in its trailer
            float reference = e.DotReference(blocks, activationBlocks, n);
            Assert.True(float.IsFinite(reference) && reference != 0, $"{e.WeightType}: reference {reference}");
            foreach (DotPath path in e.Paths.Where(p => DotPaths.IsSupported([.. e.Paths], p)))
            {
                float onPath = e.DotOn(path, blocks, activationBlocks, n);
                Assert.True(Math.Abs(onPath - reference) <= 1e-4f * Math.Abs(reference) + 1e-6f,
                    $"{e.WeightType} on {path}: {onPath} against the reference's {reference}");
                tested++;
            }

            Assert.Equal(e.Dot(blocks, activationBlocks, n), e.DotOn(e.BestPath, blocks, activationBlocks, n));
        }

        // Every kernel ran at least its scalar path (the only one on the scalar tier).
        Assert.True(tested >= DotRegistry.All.Count(), $"only {tested} paths ran");
    }

    /// <summary>
    /// A hand-written list of types (two or more <c>QuantType.X</c> in one list) in the CLI or the benchmarks would go stale
    /// with the next format; they take their lists from the registry. Facts about ggml itself (which types its CPU backend
    /// repacks) are the exception and say so with a <c>ggml-fact</c> comment on the line.
    /// </summary>
    [Fact]
    public void CliAndBenchmarksHaveNoHandWrittenTypeLists()
    {
        string root = RepositoryRoot();
        var offenders = new List<string>();
        foreach (string dir in new[] { "src/Quantization.Cli", "benchmarks" })
        {
            foreach (string file in Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            {
                if (RepositoryFiles.IsBuildOutput(Path.GetRelativePath(root, file)))
                {
                    continue;
                }

                int lineNumber = 0;
                foreach (string line in File.ReadLines(file))
                {
                    lineNumber++;
                    if (TypeList().IsMatch(line) && !line.Contains("ggml-fact", StringComparison.Ordinal))
                    {
                        offenders.Add($"{Path.GetRelativePath(root, file)}:{lineNumber}: {line.Trim()}");
                    }
                }
            }
        }

        Assert.True(offenders.Count == 0, "Hand-written type lists (derive them from FormatRegistry):\n" + string.Join('\n', offenders));
    }

    [GeneratedRegex(@"QuantType\.\w+\s*(,|or)\s*QuantType\.\w+")]
    private static partial Regex TypeList();

    /// <summary>The checkout the test binary was built in (the arm64 run under qemu runs from artifacts/ inside it too).</summary>
    private static string RepositoryRoot() =>
        RepositoryFiles.FindRoot() ?? throw new InvalidOperationException($"No Quantization.sln above {AppContext.BaseDirectory}: the tests run from a checkout.");
}
