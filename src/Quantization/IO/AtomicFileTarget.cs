namespace Quantization.IO;

/// <summary>
/// How the writers' <c>Create(path)</c> replaces a file atomically: the bytes go to <c>path + ".tmp"</c>, which
/// <see cref="Commit"/> moves onto the path once complete; a writer disposed before that <see cref="Abandon"/>s it, so
/// no partial file is left and an existing file at the path is untouched.
/// </summary>
internal sealed class AtomicFileTarget
{
    private readonly string _temporaryPath;
    private readonly string _finalPath;
    private bool _done;

    private AtomicFileTarget(string temporaryPath, string finalPath)
    {
        _temporaryPath = temporaryPath;
        _finalPath = finalPath;
    }

    /// <summary>Creates <c>path + ".tmp"</c> (replacing a stale one from a killed process) and returns its stream.</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public static AtomicFileTarget Create(string path, out FileStream stream)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temporary = full + ".tmp";
        stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        return new AtomicFileTarget(temporary, full);
    }

    /// <summary>Closes <paramref name="stream"/> (complete on disk first) and moves the file into place in one step.</summary>
    public void Commit(Stream stream)
    {
        stream.Dispose();
        File.Move(_temporaryPath, _finalPath, overwrite: true);
        _done = true;
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> moved it (the stream must be closed first).</summary>
    public void Abandon()
    {
        if (!_done)
        {
            File.Delete(_temporaryPath);
            _done = true;
        }
    }
}
