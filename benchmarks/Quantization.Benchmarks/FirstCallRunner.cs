using System.Diagnostics;
using System.Globalization;
using System.Text;
using Quantization.Formats;
using Quantization.Tests.Support;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--first-call</c>: how much slower the first calls of a kernel are than its steady state. For one format of each
/// dot family (<see cref="BenchmarkTypes.Representatives"/> and the float formats), a fresh process per measurement sets
/// up a 4096 × 4096 matrix (quantizing it, which runs no dot code), times one single-threaded
/// <see cref="QuantizedMath.MatVec"/> of 64 rows (it pays for compiling the kernels and the one-time initialisation),
/// then calls 1, 2 and 100 on the whole matrix, and the best of calls 101–200 (steady state): call 1 / steady is what
/// running unoptimised code costs on the first real call, apart from the compilation itself. Each format runs
/// once per runtime configuration: the default (tiered compilation with dynamic PGO), <c>DOTNET_TieredPGO=0</c>, and
/// <c>DOTNET_TieredCompilation=0</c> (every method fully optimised when first compiled, as
/// <c>MethodImplOptions.AggressiveOptimization</c> does for the methods that carry it, and without PGO).
/// </summary>
internal static class FirstCallRunner
{
    public const string ChildFlag = "--first-call-child";

    private const int Rows = 4096;

    private const int Columns = 4096;

    /// <summary>Rows of the first call of all: two row tiles, so that every row loop of the kernel is compiled.</summary>
    private const int SmallRows = 64;

    /// <summary>Fresh processes per format and runtime; each column is their best (a shared machine only adds time).</summary>
    private const int Processes = 3;

    private static readonly (string Name, string? Variable, string? Value)[] s_modes =
    [
        ("tiered+PGO (default)", null, null),
        ("tiered, no PGO", "DOTNET_TieredPGO", "0"),
        ("TieredCompilation=0", "DOTNET_TieredCompilation", "0"),
    ];

    /// <summary>One format of each dot family: the bandwidth representatives and the float formats.</summary>
    public static IEnumerable<QuantType> Types =>
        BenchmarkTypes.Representatives.Union(BenchmarkTypes.Dots.Where(t => FormatRegistry.TryGet(t)!.Family == FormatFamily.Float)).OrderBy(t => (int)t);

    /// <summary>Runs every (format, mode) in a child process of its own and prints the markdown table.</summary>
    public static int Run(string? filter)
    {
        var table = new StringBuilder();
        table.AppendLine($"First calls of `QuantizedMath.MatVec` ({Rows} × {Columns}, one thread), the best of 3 fresh processes each; ms per call. 64-row call: the first call of all, on 64 rows (compiling, one-time initialisation); then calls 1, 2, 100 on the whole matrix; steady = best of calls 101–200.");
        table.AppendLine();
        table.AppendLine("| Format | runtime | 64-row call ms | call 1 ms | call 2 ms | call 100 ms | steady ms | call 1 / steady |");
        table.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (QuantType type in Types.Where(t => filter is null || t.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            foreach ((string name, string? variable, string? value) in s_modes)
            {
                double[] ms = [.. Enumerable.Repeat(double.MaxValue, 5)];
                for (int process = 0; process < Processes; process++)
                {
                    double[] one = RunProcess(type, name, variable, value);
                    for (int i = 0; i < ms.Length; i++)
                    {
                        ms[i] = Math.Min(ms[i], one[i]);
                    }
                }

                string row = string.Create(CultureInfo.InvariantCulture,
                    $"| {type} | {name} | {ms[0]:0.00} | {ms[1]:0.00} | {ms[2]:0.00} | {ms[3]:0.00} | {ms[4]:0.00} | {ms[1] / ms[4]:0.0} |");
                Console.WriteLine(row);
                table.AppendLine(row);
            }
        }

        Console.WriteLine();
        Console.WriteLine(table);
        return 0;
    }

    /// <summary>One fresh process: its milliseconds (the small call, calls 1, 2, 100, steady).</summary>
    private static double[] RunProcess(QuantType type, string name, string? variable, string? value)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(FirstCallRunner).Assembly.Location);
        }

        psi.ArgumentList.Add(ChildFlag);
        psi.ArgumentList.Add(type.ToString());
        if (variable is not null)
        {
            psi.Environment[variable] = value;
        }

        using Process child = Process.Start(psi)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("F\t", StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"first-call child of {type} ({name}) failed: {output}");
        }

        return [.. line.Split('\t').Skip(1).Select(f => double.Parse(f, CultureInfo.InvariantCulture))];
    }

    /// <summary>The child: set up, then the timed calls; one tab-separated line of milliseconds.</summary>
    public static int RunChild(string typeName)
    {
        QuantType type = Enum.Parse<QuantType>(typeName);
        float[] sample = TestData.TransformerLike(0x5EED_BE4C, Columns * 64);
        byte[] rows64 = new byte[Quantizer.GetByteCount(type, sample.Length)];
        Quantizer.Quantize(type, sample, rows64, Columns);
        QuantFormat f = QuantFormat.Get(type);
        int rowBytes = Columns / f.BlockSize * f.BytesPerBlock;
        byte[] weights = new byte[(long)rowBytes * Rows + f.TrailerBytes];
        for (int r = 0; r < Rows; r += 64)
        {
            rows64.AsSpan(0, 64 * rowBytes).CopyTo(weights.AsSpan(r * rowBytes));
        }

        rows64.AsSpan(64 * rowBytes).CopyTo(weights.AsSpan(Rows * rowBytes)); // a per-tensor trailer (I2_S) once, after the rows
        float[] x = TestData.Gaussian(0xAC71, Columns, 1);
        float[] y = new float[Rows];
        double Call(int rows = Rows)
        {
            long start = Stopwatch.GetTimestamp();
            QuantizedMath.MatVec(type, weights.AsSpan(0, rows == Rows ? weights.Length : rowBytes * rows), rows, Columns, x, y, maxDegreeOfParallelism: 1);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        double small = f.TrailerBytes == 0 ? Call(SmallRows) : 0; // a trailer follows the last row: no view of fewer rows
        double first = Call(), second = Call(), hundredth = 0, steady = double.MaxValue;
        for (int call = 3; call <= 200; call++)
        {
            double t = Call();
            if (call == 100)
            {
                hundredth = t;
            }
            else if (call > 100)
            {
                steady = Math.Min(steady, t);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"F\t{small:R}\t{first:R}\t{second:R}\t{hundredth:R}\t{steady:R}"));
        return 0;
    }
}
