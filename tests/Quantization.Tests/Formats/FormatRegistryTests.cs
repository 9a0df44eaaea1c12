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
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
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
    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Quantization.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Quantization.sln above {AppContext.BaseDirectory}: the tests run from a checkout.");
    }
}
