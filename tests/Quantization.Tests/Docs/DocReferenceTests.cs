using System.Text;
using System.Text.RegularExpressions;
using Quantization.Tests.Support;

namespace Quantization.Tests.Docs;

/// <summary>
/// Every <c>docs/&lt;name&gt;.md</c> and <c>docs/&lt;name&gt;.md#anchor</c> that a source file, script or document of the
/// repository cites must exist, and the anchor must match a heading of that file (GitHub's slug rule). No file may
/// cite a design note that is not part of the repository. The documents' own relative links are checked the same way
/// (docs/testing.md#documentation-references).
/// </summary>
public sealed partial class DocReferenceTests
{
    /// <summary>The folders whose files are scanned (README.md at the root is scanned too).</summary>
    private static readonly string[] s_folders = ["src", "tests", "benchmarks", "eng", "fuzz", "samples"];

    private static readonly string[] s_extensions = [".cs", ".sh", ".md", ".props", ".csproj"];

    /// <summary>
    /// Design notes kept outside the repository, which a clone cannot follow. They are spelled in lower case here and
    /// upper-cased when the pattern is built, so that this file does not cite them itself.
    /// </summary>
    private static readonly string[] s_externalNotes = ["formats", "oracle", "peers", "neon-qemu", "toolchain", "next-formats", "architecture"];

    private static readonly Regex s_externalNote = new(
        @"(?<![A-Za-z0-9_-])(?:" + string.Join('|', s_externalNotes.Select(n => Regex.Escape(n.ToUpperInvariant()))) + @")\.md",
        RegexOptions.CultureInvariant);

    /// <summary>A citation of a document: "docs/", a file name, ".md", optionally followed by "#anchor".</summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9_.-])docs/([A-Za-z0-9_.-]+?)\.md(?:#([A-Za-z0-9_-]*))?", RegexOptions.CultureInvariant)]
    private static partial Regex DocCitation();

    /// <summary>A Markdown link target: <c>](target)</c>.</summary>
    [GeneratedRegex(@"\]\(([^)\s]+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex MarkdownLink();

    [Fact]
    public void CitedDocumentsAndAnchorsExist()
    {
        if (RepositoryRoot() is not { } root)
        {
            return;
        }

        var problems = new List<string>();
        int citations = 0;
        foreach (string file in ScannedFiles(root))
        {
            string relative = Path.GetRelativePath(root, file);
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                foreach (Match m in DocCitation().Matches(lines[i]))
                {
                    citations++;
                    string? problem = CheckTarget(root, Path.Combine(root, "docs", m.Groups[1].Value + ".md"),
                                                  m.Groups[2].Success ? m.Groups[2].Value : null);
                    if (problem is not null)
                    {
                        problems.Add($"{relative}:{i + 1}: {m.Value}: {problem}");
                    }
                }
            }
        }

        Assert.True(citations > 0, "No docs/*.md citation found at all: the scan itself is broken.");
        Assert.True(problems.Count == 0, $"{problems.Count} broken documentation reference(s):\n" + string.Join('\n', problems));
    }

    [Fact]
    public void NoFileCitesNotesOutsideTheRepository()
    {
        if (RepositoryRoot() is not { } root)
        {
            return;
        }

        var problems = new List<string>();
        foreach (string file in ScannedFiles(root).Concat(DocumentFiles(root)))
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                foreach (Match m in s_externalNote.Matches(lines[i]))
                {
                    problems.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: cites {m.Value}, which is not in the repository");
                }
            }
        }

        Assert.True(problems.Count == 0, "Cite docs/*.md sections instead:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void LinksInsideTheDocumentsResolve()
    {
        if (RepositoryRoot() is not { } root)
        {
            return;
        }

        var problems = new List<string>();
        foreach (string file in DocumentFiles(root))
        {
            string[] lines = File.ReadAllLines(file);
            bool fenced = false;
            for (int i = 0; i < lines.Length; i++)
            {
                if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    fenced = !fenced;
                }

                if (fenced)
                {
                    continue;
                }

                foreach (Match m in MarkdownLink().Matches(lines[i]))
                {
                    string target = m.Groups[1].Value;
                    if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    int hash = target.IndexOf('#');
                    string path = hash < 0 ? target : target[..hash];
                    string? anchor = hash < 0 ? null : target[(hash + 1)..];
                    if (path.Length > 0 && !path.EndsWith(".md", StringComparison.Ordinal))
                    {
                        continue; // links to source files and folders are not checked here
                    }

                    string resolved = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path));
                    string? problem = CheckTarget(root, resolved, anchor);
                    if (problem is not null)
                    {
                        problems.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: ({target}): {problem}");
                    }
                }
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} broken link(s) in docs/:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void CheckerReportsMissingFilesAndAnchors()
    {
        if (RepositoryRoot() is not { } root)
        {
            return;
        }

        string formats = Path.Combine(root, "docs", "formats.md");
        Assert.Null(CheckTarget(root, formats, "q4_k"));
        Assert.Null(CheckTarget(root, formats, null));
        Assert.NotNull(CheckTarget(root, formats, "no-such-section"));
        Assert.NotNull(CheckTarget(root, Path.Combine(root, "docs", "no-such-document.md"), null));

        Match m = DocCitation().Match("see docs/formats.md#q8_0-activations).");
        Assert.Equal("formats", m.Groups[1].Value);
        Assert.Equal("q8_0-activations", m.Groups[2].Value);
        Assert.Matches(s_externalNote, "see " + "oracle".ToUpperInvariant() + ".md");
        Assert.DoesNotMatch(s_externalNote, "see docs/testing.md");
    }

    [Theory]
    [InlineData("Q4_K", "q4_k")]
    [InlineData("Q8_0 activations", "q8_0-activations")]
    [InlineData("FP16 and BF16", "fp16-and-bf16")]
    [InlineData("make_qkx2_quants", "make_qkx2_quants")]
    [InlineData("arm64 under qemu", "arm64-under-qemu")]
    [InlineData("F32, F16 and `BF16`!", "f32-f16-and-bf16")]
    [InlineData("  Trailing space ", "trailing-space")]
    public void SlugFollowsGitHub(string heading, string expected) => Assert.Equal(expected, Slug(heading));

    /// <summary>GitHub's heading anchor: lower case, spaces to '-', every other character but letters, digits, '-' and '_' dropped.</summary>
    internal static string Slug(string heading)
    {
        var sb = new StringBuilder(heading.Length);
        foreach (char c in heading.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c == '-' || c == '_')
            {
                sb.Append(c);
            }
            else if (c == ' ')
            {
                sb.Append('-');
            }
        }

        return sb.ToString();
    }

    /// <summary>The anchors of a Markdown file's headings (outside fenced code), duplicates numbered as GitHub does.</summary>
    internal static HashSet<string> Anchors(string markdownFile)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool fenced = false;
        foreach (string line in File.ReadLines(markdownFile))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            int level = 0;
            while (level < line.Length && line[level] == '#')
            {
                level++;
            }

            if (fenced || level is 0 or > 6 || level >= line.Length || line[level] != ' ')
            {
                continue;
            }

            string slug = Slug(line[level..].TrimEnd('#', ' '));
            int count = seen.GetValueOrDefault(slug);
            seen[slug] = count + 1;
            anchors.Add(count == 0 ? slug : $"{slug}-{count}");
        }

        return anchors;
    }

    /// <summary>Null when <paramref name="file"/> exists inside the repository and has <paramref name="anchor"/> (if any), else why not.</summary>
    private static string? CheckTarget(string root, string file, string? anchor)
    {
        string relative = Path.GetRelativePath(root, file);
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return $"{file} is outside the repository";
        }

        if (!File.Exists(file))
        {
            return $"{relative.Replace('\\', '/')} does not exist";
        }

        if (string.IsNullOrEmpty(anchor))
        {
            return null;
        }

        return Anchors(file).Contains(anchor) ? null : $"{relative.Replace('\\', '/')} has no heading with the anchor #{anchor}";
    }

    private static IEnumerable<string> ScannedFiles(string root)
    {
        yield return Path.Combine(root, "README.md");
        foreach (string folder in s_folders)
        {
            string dir = Path.Combine(root, folder);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                if (s_extensions.Contains(Path.GetExtension(file), StringComparer.Ordinal) && !RepositoryFiles.IsBuildOutput(Path.GetRelativePath(root, file)))
                {
                    yield return file;
                }
            }
        }
    }

    private static IEnumerable<string> DocumentFiles(string root)
    {
        string docs = Path.Combine(root, "docs");
        return Directory.Exists(docs) ? Directory.EnumerateFiles(docs, "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : [];
    }

    /// <summary>
    /// The checkout: the first folder holding Quantization.sln, walking up from the test binaries (the normal build
    /// output and the arm64 build in artifacts/arm64-tests both sit inside it). Binaries copied out of a checkout have
    /// no sources to check: the test says so and returns. Binaries still under a bin/ folder belong to a build, so a
    /// missing solution there is a failure.
    /// </summary>
    private static string? RepositoryRoot()
    {
        if (RepositoryFiles.FindRoot() is { } root)
        {
            return root;
        }

        string message = $"No Quantization.sln above {AppContext.BaseDirectory}: not running from a checkout, nothing to check.";
        Assert.False(RepositoryFiles.IsBuildOutput(AppContext.BaseDirectory), message + " (but these binaries sit in a build output folder)");
        TestContext.Current.TestOutputHelper?.WriteLine(message);
        return null;
    }
}
