namespace Quantization.Tests.Support;

/// <summary>The checkout the test binaries were built in, for tests that read the repository's own sources and docs.</summary>
internal static class RepositoryFiles
{
    /// <summary>
    /// The first folder holding Quantization.sln, walking up from the test binaries (the normal build output and the
    /// arm64 build in artifacts/arm64-tests both sit inside the checkout); null for binaries copied out of one.
    /// </summary>
    public static string? FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Quantization.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    /// <summary>Whether a path (relative to the checkout, or a binaries folder) lies in a bin/ or obj/ build output folder.</summary>
    public static bool IsBuildOutput(string path) =>
        path.Split('/', '\\').Any(segment => segment is "bin" or "obj");
}
